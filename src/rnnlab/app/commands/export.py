"""`rnnlab export`: write a run as ONNX or as a PyTorch state dict."""
from ...errors import RnnlabError


def add_parser(sub):
    x = sub.add_parser("export", help="write a run as ONNX or as a PyTorch state dict")
    x.add_argument("run", help="the run folder to export")
    x.add_argument("-o", "--output", required=True, help="model.onnx or model.pt (required, no default)")
    x.add_argument("--format", default=None, choices=["onnx", "torch"],
                   help="the file format (default: from the output's extension)")
    x.add_argument("--which", default="best", choices=["best", "model"],
                   help="best weights on validation, or the last ones")
    x.add_argument("--initial-state", action="store_true",
                   help="ONNX: take initial_h (and initial_c) as graph inputs")
    x.set_defaults(func=run)


def run(a):
    out = a.output.lower()
    fmt = a.format or ("onnx" if out.endswith(".onnx") else
                       "torch" if out.endswith((".pt", ".pth")) else None)
    if fmt == "onnx":
        from ...interop.onnx import export_onnx
        export_onnx(a.run, a.output, initial_state=a.initial_state, which=a.which)
    elif fmt == "torch":
        from ...interop.torch import export_torch
        export_torch(a.run, a.output, which=a.which)
    else:
        raise RnnlabError(f"cannot tell the format of {a.output}; pass --format onnx or torch")
    print(f"wrote {a.output} ({fmt})")
    return 0
