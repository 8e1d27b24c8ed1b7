from pathlib import Path

from setuptools import find_packages, setup

version = {}
exec((Path(__file__).parent / "signclf" / "__init__.py").read_text(), version)

setup(
    name="signclf",
    version=version["__version__"],
    description="Traffic-sign classifiers (GTSRB) trained TensorFlow-1.x style: tf.compat.v1 graphs, Session, Saver",
    long_description=(Path(__file__).parent / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["signclf", "signclf.*"]),
    package_data={"signclf.data": ["signnames.csv"]},
    install_requires=[
        # TF 1.3.0 has no wheel for Python >= 3.7 and needs CUDA 8; 2.x runs the same graphs via compat.v1.
        "tensorflow>=2.16,<2.22",
        "numpy>=1.26",
        "opencv-python-headless>=4.8",
        "tqdm>=4.60",
        "scikit-learn>=1.3",
        "click>=8.1",
        "pyyaml>=6.0",
        "matplotlib>=3.7",
    ],
    extras_require={
        "gpu": ["tensorflow[and-cuda]>=2.16,<2.22"],
        "dev": ["pytest>=7", "hypothesis>=6", "ruff>=0.4"],
        "bench": ["torch"],
        # signclf export. tf2onnx is pinned to the minor release checked with TensorFlow 2.21 (its
        # converters follow TensorFlow's op set, so a new minor may convert differently); installing
        # it and onnx leaves TensorFlow, protobuf and numpy as they are (pip install --dry-run).
        "export": ["tf2onnx>=1.17,<1.18", "onnx>=1.16"],
        # predict/evaluate --model BUNDLE without TensorFlow: ONNX Runtime for model.onnx ...
        "runtime": ["onnxruntime>=1.17"],
        # ... and the LiteRT interpreter (TensorFlow Lite's successor package) for the .tflite models.
        "tflite": ["ai-edge-litert>=1.2"],
        # signclf sweep. Installing it leaves TensorFlow, protobuf and numpy as they are (pip install
        # --dry-run with ray 2.60: it adds pandas, pyarrow, fsspec, msgpack, filelock, tensorboardX).
        "sweep": ["ray[tune]>=2.9"],
    },
    entry_points={"console_scripts": ["signclf=signclf.cli:main"]},
)
