from signclf.cli import main

main(prog_name="signclf")
