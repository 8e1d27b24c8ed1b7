import dataclasses

import pytest

import signclf.device as device_module
from signclf.config import load_config
from signclf.device import Device, auto_towers
from signclf.errors import ConfigError


@pytest.fixture
def machine(monkeypatch):
    """Pretend to be a machine with the given cores and GPUs."""
    def set_machine(cores, gpus=()):
        monkeypatch.setattr(device_module, "usable_cores", lambda: cores)
        monkeypatch.setattr(device_module, "gpu_names", lambda: list(gpus))
        monkeypatch.setattr(device_module, "_gpu_description", lambda names: "GPU (fake)")
    return set_machine


def test_auto_towers_one_per_core_with_at_least_32_images_each():
    assert auto_towers(2, 128) == 2
    assert auto_towers(2, 48) == 1  # one tower of 48 rather than two of 24
    assert auto_towers(16, 128) == 4
    assert auto_towers(64, 4096) == 8
    assert auto_towers(4, 1) == 1


def test_training_on_a_cpu_uses_towers_and_splits_the_threads(machine):
    machine(2)
    device = Device.for_training(load_config(None, ["train.batch_size=128"]).train)
    assert (device.gpu, device.towers, device.blocked_conv, device.float16) == (False, 2, True, False)
    config = device.session_config()
    assert (config.inter_op_parallelism_threads, config.intra_op_parallelism_threads) == (2, 1)
    assert device.describe() == "CPU (2 cores) × 2 towers"


def test_one_tower_gets_every_usable_core_for_its_ops(machine):
    machine(2)
    device = Device.for_training(load_config(None, ["train.batch_size=48"]).train)
    assert device.towers == 1 and device.describe() == "CPU (2 cores)"
    machine(1)
    assert Device.for_training(load_config(None, []).train).describe() == "CPU (1 core)"
    config = device.session_config()
    assert (config.intra_op_parallelism_threads, config.inter_op_parallelism_threads) == (2, 0)


def test_an_explicit_tower_count_wins_on_a_cpu(machine):
    machine(16)
    tc = load_config(None, ["train.towers=3"]).train
    device = Device.for_training(tc)
    assert device.towers == 3 and device.session_config().intra_op_parallelism_threads == 5


def test_a_gpu_runs_one_tower_plain_convolutions_and_float16_only_when_asked(machine):
    machine(8, ["/physical_device:GPU:0"])
    tc = load_config(None, ["train.towers=3", "train.mixed_precision=true", "train.xla=true"]).train
    device = Device.for_training(tc)
    assert (device.gpu, device.towers, device.blocked_conv, device.float16) == (True, 1, False, True)
    assert device.session_config().graph_options.optimizer_options.global_jit_level > 0
    assert not Device.for_training(dataclasses.replace(tc, mixed_precision=False)).float16


def test_float16_is_never_used_on_a_cpu(machine):
    machine(2)
    assert not Device.for_training(load_config(None, ["train.mixed_precision=true"]).train).float16


def test_inference_picks_towers_for_this_machine_not_the_training_batch(machine):
    machine(4)
    assert Device.for_inference().towers == 4
    machine(1)
    assert Device.for_inference().towers == 1


def test_detecting_does_not_change_the_config(machine):
    machine(2)
    tc = load_config(None, []).train
    before = dataclasses.asdict(tc)
    Device.for_training(tc)
    assert dataclasses.asdict(tc) == before


def test_the_portable_device_is_the_same_everywhere(machine):
    machine(16, ["/physical_device:GPU:0"])
    device = Device.portable()
    assert (device.towers, device.float16, device.blocked_conv) == (1, False, False)


def test_signclf_cpus_caps_the_cores_so_a_sweep_trial_uses_only_its_share(monkeypatch):
    monkeypatch.setenv(device_module.CORES_ENV, "1")
    monkeypatch.setattr(device_module, "gpu_names", lambda: [])
    assert device_module.usable_cores() == 1
    device = Device.for_training(load_config(None, ["train.batch_size=128"]).train)
    assert (device.towers, device.session_config().intra_op_parallelism_threads) == (1, 1)


def test_a_malformed_signclf_cpus_is_one_config_error(monkeypatch):
    monkeypatch.setenv(device_module.CORES_ENV, "two")
    with pytest.raises(ConfigError, match="SIGNCLF_CPUS=two: expected a whole number"):
        device_module.usable_cores()
