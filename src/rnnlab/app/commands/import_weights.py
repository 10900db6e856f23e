"""`rnnlab import`: bring torch-trained weights (.pt) into a new run folder."""


def add_parser(sub):
    i = sub.add_parser("import", help="bring torch-trained weights (.pt) into a new run folder")
    i.add_argument("file", help="a .pt state dict (read with weights_only=True)")
    i.add_argument("--config", required=True, help="the run folder (or its config.json) the "
                   "weights were exported from (required, no default)")
    i.add_argument("--out", required=True, help="new run folder to create (required, no default)")
    i.set_defaults(func=run)


def run(a):
    from ...interop.torch import import_torch
    run_folder = import_torch(a.file, a.config, a.out)
    print(f"imported {a.file} into {run_folder.path}")
    return 0
