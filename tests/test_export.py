"""Export: every format reloads and gives the genome-built model's outputs (≤ 1e-5)."""
import importlib.util
import sys

import pytest
import torch

from nas import Genome, build
from nas.export import export, load_checkpoint, to_source
from tests.conftest import run_cli

GENOME = "configs/genomes/small_resnet.yaml"


@pytest.fixture(scope="module")
def trained():
    """The example genome with non-default weights (as if trained), and a fixed batch."""
    torch.manual_seed(0)
    g = Genome.load(GENOME)
    model = build(g)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
        model.train()
        for _ in range(3):
            model(torch.randn(16, *g.input))  # move the BN running statistics
    model.eval()
    x = torch.randn(5, *g.input)
    with torch.no_grad():
        y = model(x)
    return g, model, x, y


def _import(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_pt_round_trip(tmp_path, trained):
    g, model, x, y = trained
    export(g, "pt", tmp_path / "m.pt", model.state_dict())
    g2, m2 = load_checkpoint(tmp_path / "m.pt")
    assert g2 == g
    with torch.no_grad():
        assert (m2.eval()(x) - y).abs().max() <= 1e-5


def test_torchscript_round_trip(tmp_path, trained):
    g, model, x, y = trained
    export(g, "torchscript", tmp_path / "m.ts", model.state_dict())
    ts = torch.jit.load(str(tmp_path / "m.ts"))
    with torch.no_grad():
        assert (ts(x) - y).abs().max() <= 1e-5


def test_py_module_needs_only_torch(tmp_path, trained):
    g, model, x, y = trained
    files = export(g, "py", tmp_path / "small_net.py", model.state_dict())
    src = files[0].read_text()
    assert "import nas" not in src and "from nas" not in src
    mod = _import(files[0])
    net = mod.load().eval()
    assert list(dict(net.named_parameters())) == list(dict(model.named_parameters()))
    with torch.no_grad():
        assert (net(x) - y).abs().max() <= 1e-5


def test_py_source_covers_composite_ops(tmp_path):
    """sepconv/fconv/se/shuffle/slice/zero all survive the standalone source."""
    from tests.test_cost import _zoo_of_ops
    g = _zoo_of_ops()
    model = build(g).eval()
    p = tmp_path / "ops_net.py"
    p.write_text(to_source(g))
    net = _import(p).load().eval()
    net.load_state_dict(model.state_dict())
    x = torch.randn(2, *g.input)
    with torch.no_grad():
        assert (net(x) - model(x)).abs().max() <= 1e-5


def test_onnx_round_trip(tmp_path, trained):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    g, model, x, y = trained
    export(g, "onnx", tmp_path / "m.onnx", model.state_dict())
    sess = ort.InferenceSession(str(tmp_path / "m.onnx"))
    out = sess.run(None, {"x": x.numpy()})[0]
    assert abs(torch.from_numpy(out) - y).max() <= 1e-5


def test_cli_export_and_errors(tmp_path):
    ck = tmp_path / "alex.pt"
    r = run_cli("build", GENOME, "--out", str(ck))
    assert r.returncode == 0, r.stderr
    r = run_cli("export", GENOME, "--format", "py", "--out", str(tmp_path / "net.py"),
                "--weights", str(ck))
    assert r.returncode == 0 and "with weights from" in r.stdout, r.stderr
    assert (tmp_path / "net.py").exists() and (tmp_path / "net.pt").exists()
    r = run_cli("export", "alexnet", "--format", "pt", "--out", str(tmp_path / "x.pt"),
                "--weights", str(ck))
    assert r.returncode == 2 and "holds genome small_resnet" in r.stderr
    r = run_cli("export", GENOME, "--format", "pt", "--out", str(tmp_path / "nodir" / "x.pt"))
    assert r.returncode == 2 and "does not exist" in r.stderr and "Traceback" not in r.stderr
    bad = tmp_path / "bad.pt"
    bad.write_text("not a checkpoint")
    r = run_cli("export", GENOME, "--format", "pt", "--out", str(tmp_path / "y.pt"),
                "--weights", str(bad))
    assert r.returncode == 2 and "not a torch checkpoint" in r.stderr


def _randomize_bn(model):
    """BN statistics and affine parameters away from their init (else folding is trivial)."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.2)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) * 1.5 + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.2)
    return model.eval()


def _zoo_net(name):
    from search_spaces import get_net
    if name == "nasnet":
        from search_spaces.nasnet import NasnetCellSpace, nasnet_a_specs
        return NasnetCellSpace(concat="choice").network(nasnet_a_specs(), "nasnet_a")
    return get_net(name, input=(3, 32, 32), num_classes=10)


@pytest.mark.parametrize("name,folded,dropouts", [
    ("resnet18", 20, 0), ("mobilenet_v2", 52, 1), ("densenet121", 59, 0), ("nasnet", 98, 1),
    ("resnet110_sd", 109, 54)])                  # 54 drop-path (stochastic depth) removed
def test_optimize_folds_conv_bn_and_keeps_the_eval_outputs(name, folded, dropouts):
    from nas.export import optimize_model
    g = _zoo_net(name)
    model = _randomize_bn(build(g))
    opt, changes = optimize_model(model)
    assert (len(changes.folded), len(changes.removed)) == (folded, dropouts)
    n_bn = sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in opt.modules()) == n_bn - folded
    from torchvision.ops import StochasticDepth
    assert not any(isinstance(m, (torch.nn.Dropout, StochasticDepth)) for m in opt.modules())
    assert not opt.training
    x = torch.randn(1, *g.input)
    with torch.no_grad():
        assert (opt(x) - model(x)).abs().max() <= 1e-5
    assert model.training is False and any(isinstance(m, torch.nn.BatchNorm2d)
                                           for m in model.modules())   # the input is untouched


def test_cli_exports_optimized_torchscript_and_py(tmp_path, trained):
    g, model, x, y = trained
    ck = tmp_path / "w.pt"
    export(g, "pt", ck, model.state_dict())
    from nas.cli import main
    assert main(["export", GENOME, "--format", "torchscript", "--out", str(tmp_path / "m.ts"),
                 "--weights", str(ck)]) == 0
    assert main(["export", GENOME, "--format", "py", "--optimize", "--out",
                 str(tmp_path / "opt_net.py"), "--weights", str(ck)]) == 0
    assert main(["export", GENOME, "--format", "pt", "--optimize", "--out",
                 str(tmp_path / "x.pt")]) == 2
    ts = torch.jit.load(str(tmp_path / "m.ts"))
    net = _import(tmp_path / "opt_net.py").load().eval()
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
    with torch.no_grad():
        assert (ts(x) - y).abs().max() <= 1e-5
        assert (net(x) - y).abs().max() <= 1e-5
    graph = str(ts.inlined_graph)
    assert "aten::_convolution" in graph and "batch_norm" not in graph   # folded, frozen


def test_in_place_activation_after_dropout_never_overwrites_a_shared_value():
    """Dropout returns its input itself in eval mode: an in-place ReLU after it would overwrite
    the shortcut's value (builder), and removing the dropout must not make it do so (optimize)."""
    from nas.export import optimize_model
    from nas.genome import Cell, Node, Stage
    g = Genome("t", (
        Stage("s", Cell((Node("conv", "conv", ("x",), {"out_ch": 4, "kernel": 3}),
                         Node("drop", "dropout", ("conv",), {"p": 0.5}),
                         Node("relu", "relu", ("drop",)),
                         Node("add", "add", ("relu", "conv")))), block_name=""),
        Stage("", Cell((Node("gap", "gap"), Node("flatten", "flatten"),
                        Node("fc", "linear", args={"out_ch": "K"}))), block_name="")),
        (), (1, 8, 8), 3)
    m = build(g).eval()
    x = torch.randn(2, 1, 8, 8)
    with torch.no_grad():
        c = m.s.conv(x)
        ref = m.fc(torch.flatten(m.gap(torch.relu(c) + c), 1))
        assert (m(x) - ref).abs().max() <= 1e-6
        opt, changes = optimize_model(m)
        assert changes.removed == ("s.drop",)
        assert (opt(x) - ref).abs().max() <= 1e-6
