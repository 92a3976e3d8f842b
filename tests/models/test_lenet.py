import pytest
import torch

from src.models.lenet import LeNet, lenet_sizes


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_width_6_is_lenet5():
    # LeCun et al.'s LeNet-5 with a padded first conv: 156 + 2,416 + 48,120 + 10,164 + 850
    assert lenet_sizes(6) == (6, 16, 120, 84)
    assert n_params(LeNet(6)) == 61_706


def test_fractional_width_reaches_a_hundred_parameters():
    # width 0.1: convs of one channel (26 + 26), dense 25->2 (52), 2->2 (6), 2->10 (30); hidden layers keep 2 units
    assert lenet_sizes(0.1) == (1, 1, 2, 2)
    assert n_params(LeNet(0.1)) == 140
    assert lenet_sizes(0.25) == (1, 1, 5, 4)
    sizes = [n_params(LeNet(w)) for w in (0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32)]
    assert sizes == sorted(sizes) and sizes[0] < 200 and sizes[-1] > 1_000_000


@pytest.mark.parametrize("width", [0.1, 1, 3])
def test_forward_shape(width):
    assert LeNet(width)(torch.zeros(4, 1, 28, 28)).shape == (4, 10)


@pytest.mark.parametrize("width", [0, -1])
def test_non_positive_width_is_refused(width):
    with pytest.raises(ValueError, match="positive number"):
        lenet_sizes(width)
