# Exports torchvision classification networks as ONNX backend-style cases for
# interop's TestTorchvision: OUTDIR/NAME-opOPSET/model.onnx and
# test_data_set_0/{input_0,output_0}.pb, the expected output being PyTorch's
# own forward. Input "input" 1x3x224x224 with a dynamic batch axis, output
# "output". Weights are random (seed 0, as torchvision initialises them),
# except that weight tensors torchvision sets to zero (ViT's head and class
# token) are redrawn, so that no network's output is identically zero.
# usage: torchvision_export.py OUTDIR NAME[:OPSET] ...   (default opset 13;
# resnet18-features is ResNet-18 without its classifier)
import os, shutil, sys, tempfile, time
import torch, torchvision
from onnx import numpy_helper


def build(name):
    if name == 'resnet18-features':
        m = torchvision.models.resnet18()
        m.fc = torch.nn.Identity()
        return m
    if name == 'googlenet':
        return torchvision.models.googlenet(aux_logits=False, init_weights=True)
    return getattr(torchvision.models, name)()


def export(out, spec):
    name, _, op = spec.partition(':')
    opset = int(op or 13)
    torch.manual_seed(0)
    m = build(name).eval()
    with torch.no_grad():
        for p in m.parameters():
            if p.dim() > 1 and not p.any():
                torch.nn.init.normal_(p, std=0.02)
    x = torch.rand(1, 3, 224, 224)
    # Written under a temporary name and renamed, so that a case folder is
    # either complete or absent.
    tmp = tempfile.mkdtemp(prefix='.export-', dir=out)
    try:
        os.makedirs(os.path.join(tmp, 'test_data_set_0'))
        torch.onnx.export(m, x, os.path.join(tmp, 'model.onnx'), opset_version=opset,
                          input_names=['input'], output_names=['output'],
                          dynamic_axes={'input': {0: 'batch'}, 'output': {0: 'batch'}})
        with torch.no_grad():
            y = m(x)
        for kind, t in (('input', x), ('output', y)):
            with open(os.path.join(tmp, 'test_data_set_0', kind + '_0.pb'), 'wb') as f:
                f.write(numpy_helper.from_array(t.numpy(), kind).SerializeToString())
        final = os.path.join(out, f'{name}-op{opset}')
        shutil.rmtree(final, ignore_errors=True)
        os.rename(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    out, failed = sys.argv[1], 0
    os.makedirs(out, exist_ok=True)
    for spec in sys.argv[2:]:
        start = time.time()
        try:
            export(out, spec)
        except Exception as e:  # report and go on: the Go test names the missing case
            failed += 1
            print(f'{spec}: EXPORT FAILED: {str(e)[:200]}', flush=True)
            continue
        print(f'{spec}: exported in {time.time() - start:.1f} s', flush=True)
    sys.exit(1 if failed else 0)


main()
