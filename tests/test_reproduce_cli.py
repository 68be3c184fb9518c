"""`nas nets` and `nas reproduce` as a user types them."""
import json

import torch
import torchvision

from nas import build
from search_spaces import get_net
from search_spaces.reference import randomise_norms, verify
from tests.conftest import run_cli


def test_nets_json_lists_the_zoo_with_params_and_flops():
    r = run_cli("nets", "--json")
    assert r.returncode == 0, r.stderr
    rows = {d["name"]: d for d in json.loads(r.stdout)}
    assert rows["resnet18"]["params"] == 11_689_512 and rows["resnet18"]["input"] == [3, 224, 224]
    assert round(rows["resnet50"]["flops"] / 1e9, 1) == 4.1
    assert rows["resnet18"]["reference"] == "torchvision"
    assert rows["lenet5"]["input"] == [1, 32, 32] and rows["lenet5"]["num_classes"] == 10
    assert rows["mobilenet_v1"]["reference"] == "published"
    assert rows["googlenet"]["macs"] < rows["googlenet"]["flops"]  # FLOPs add the pooling
    table = run_cli("nets", "resnet*")
    assert table.returncode == 0 and "11,689,512" in table.stdout and "lenet5" not in table.stdout


def test_reproduce_resnet18_passes():
    r = run_cli("reproduce", "resnet18")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "resnet18 reproduces resnet18" in r.stdout and "MISMATCH" not in r.stdout
    assert "148,557,824" not in r.stdout  # at 224 it is 1.8 G, not the 64×64 count
    assert "1,814,073,344" in r.stdout  # conv/linear MACs, equal on both sides


def test_reproduce_json_and_a_published_reference():
    r = run_cli("reproduce", "mobilenet_v1", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["ok"] and d["reference"].startswith("published: Howard et al.")
    assert {c["check"] for c in d["checks"]} >= {"parameters", "conv/linear multiply-adds"}


def test_a_broken_genome_file_fails_the_checks(tmp_path):
    d = get_net("resnet18").to_dict()
    for s in d["stages"]:
        if s["name"] == "layer3":
            s["out_ch"] = 320
    path = tmp_path / "resnet18_wide3.json"
    path.write_text(json.dumps(d))
    r = run_cli("reproduce", str(path), "--input", "3x32x32")
    assert r.returncode == 1
    assert "MISMATCH" in r.stdout and "does not reproduce resnet18" in r.stdout
    assert "layer3.0.conv1.weight" in r.stdout  # the first key that does not fit


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    r = run_cli("reproduce", "resnet181")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and "unknown net 'resnet181'" in r.stderr
    assert "resnet18" in r.stderr  # the close match is suggested
    r = run_cli("reproduce", "configs/genomes/small_resnet.yaml")
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "no reference for genome 'small_resnet': pass --reference NAME" in r.stderr
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    r = run_cli("reproduce", "lenet5", "--weights", str(junk))
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert f"--weights '{junk}': not a torch checkpoint" in r.stderr


def test_weights_file_is_loaded_into_the_genome_model(tmp_path):
    """A torchvision checkpoint saved to disk loads into the genome-built model; a checkpoint
    of another net is a failed check that names the first key that does not fit."""
    torch.manual_seed(1)
    tv = torchvision.models.resnet18(num_classes=10)
    randomise_norms(tv, seed=3)
    with torch.no_grad():
        tv.fc.bias.fill_(7.0)
    ckpt = tmp_path / "resnet18.pt"
    torch.save(tv.state_dict(), ckpt)
    r = run_cli("reproduce", "resnet18", "--classes", "10", "--input", "3x32x32",
                "--weights", str(ckpt), "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    checks = {c["check"]: c for c in json.loads(r.stdout)["checks"]}
    assert "from the checkpoint" in checks["weights load (strict)"]["expected"]
    assert float(checks["outputs"]["measured"]) <= 1e-4

    # the Python API path the command uses: the genome model now computes the checkpoint's net
    from search_spaces.reference import load_checkpoint
    model = build(get_net("resnet18", num_classes=10, input=(3, 32, 32)))
    model.load_state_dict(load_checkpoint(ckpt), strict=True)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(model.eval()(x), tv.eval()(x), atol=1e-5)

    other = tmp_path / "resnet34.pt"
    torch.save(torchvision.models.resnet34(num_classes=10).state_dict(), other)
    v = verify(get_net("resnet18", num_classes=10, input=(3, 32, 32)), "resnet18", weights=other)
    bad = [c for c in v.checks if c.ok is False]
    assert not v.ok and [c.name for c in bad] == ["weights load (strict)"]
    assert bad[0].detail == ("checkpoint does not fit torchvision resnet18: layer1.2.conv1.weight: "
                             "in the checkpoint but not in the model")
