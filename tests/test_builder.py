"""Builder: flat fx module, readable stable names, forward and backward for valid genomes,
torchvision weights load by name and give identical outputs."""
import torch
import torchvision

from nas import Genome, build
from search_spaces import get_net


def test_generated_code_is_flat_and_named():
    model = build(Genome.load("configs/genomes/small_resnet.yaml"))
    assert isinstance(model, torch.fx.GraphModule)
    assert "layer2.0.downsample.0.weight" in dict(model.named_parameters())
    assert "def forward(self, x):" in model.code and "layer3_1_conv2" in model.code


def test_forward_backward():
    g = Genome.load("configs/genomes/small_resnet.yaml")
    model = build(g)
    x = torch.randn(4, *g.input)
    loss = model(x).logsumexp(1).mean()
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())


def test_alexnet_takes_torchvision_weights_and_matches_outputs():
    torch.manual_seed(0)
    tv = torchvision.models.alexnet(num_classes=10).eval()
    model = build(get_net("alexnet", num_classes=10)).eval()
    model.load_state_dict(tv.state_dict(), strict=True)
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        assert (model(x) - tv(x)).abs().max() <= 1e-5
