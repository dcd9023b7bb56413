"""``latentswap export``: a trained model as one ONNX or TorchScript file, checked against torch."""

from __future__ import annotations

import argparse

from latentswap_core.cli.arguments import MAX_BATCH, add_progress_json, whole
from latentswap_core.progress import emit_json
from latentswap_core.swap.opsets import MAX_OPSET, MIN_OPSET


def add_commands(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "export", help="write a trained model as an ONNX or TorchScript file",
        description="Export the whole swap network (codec encoder, swap model, codec decoder) of MODEL_DIR. "
                    "onnx: input 'face' B x 3 x S x S, output 'swap' B x 4 x S x S (swapped RGB + mask), the "
                    "batch dynamic unless --batch-size is given, the model card in metadata_props. "
                    "torchscript: for Nuke's CatFileCreator, 1 x C x H x W in (rgb of the aligned crop; other "
                    "sizes are resized to S and back), 1 x 4 x H x W out. Each file is compared with torch "
                    "before it is written (onnx: max abs diff < 1e-3, torchscript: < 1e-4).",
    )
    parser.add_argument("model_dir", metavar="MODEL_DIR", help="the folder `latentswap train -o` wrote")
    parser.add_argument("--format", required=True, choices=("onnx", "torchscript"), help="file format")
    parser.add_argument("-o", "--output", required=True, metavar="FILE", help="the file to write")
    parser.add_argument("--batch-size", type=whole(1, MAX_BATCH), metavar="N",
                        help="onnx: fix the batch to N faces (e.g. for TensorRT); default: dynamic")
    parser.add_argument("--opset", type=whole(MIN_OPSET, MAX_OPSET), default=17,
                        help="onnx opset, 17 or newer (default: 17)")
    parser.add_argument("--exporter", default="legacy", choices=("legacy", "dynamo"),
                        help="torch's ONNX exporter (default: legacy, the faster and quieter for this network)")
    parser.add_argument("--codec-path", metavar="P", help="codec weights folder, if not on the model search path")
    add_progress_json(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from latentswap_core.swap.export import export_model

    report = export_model(args.model_dir, args.output, args.format, batch_size=args.batch_size, opset=args.opset,
                          exporter=args.exporter, codec_path=args.codec_path)
    check = (f"max abs diff {report.max_abs_diff:.2e} vs torch (limit {report.tolerance:.0e}) "
             f"on {report.checked_on}")
    if args.progress_json:
        emit_json("message", text=f"wrote {report.path}", path=str(report.path), size_bytes=report.size_bytes,
                  seconds=round(report.seconds, 2), max_abs_diff=report.max_abs_diff)
    else:
        print(f"wrote {report.path} ({report.size_bytes / 1e6:.1f} MB, {report.format}) in {report.seconds:.1f} s")
        print(f"check: {check}")
    return 0
