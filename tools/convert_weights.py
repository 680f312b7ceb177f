"""Convert downloaded backbone weights into the files the configs read, with checksums.

    python tools/convert_weights.py mit ~/Downloads/mit_b5.pth                 -> pretrained/mit_b5.pth
    python tools/convert_weights.py resnet_v1c resnet101_v1c-e67eebb6.pth      -> pretrained/resnet101_v1c.pth
    python tools/convert_weights.py torchvision resnet101-63fe2227.pth         -> pretrained/resnet101_torchvision.pth
    python tools/convert_weights.py clip open_clip_pytorch_model.bin           -> pretrained/clip_rn101.pth
    python tools/convert_weights.py proca g2c_model_best.pth                   -> pretrained/proca_g2c_model_best.pth

Every key and shape is checked against the model that reads the file; the sha256 of input and output
is printed (and compared with the published checksum where one is known).  See
mmseg_procl/utils/weight_conversion.py and the README section "Pretrained weights".
"""
import argparse
import sys

from mmseg_procl.errors import USER_ERRORS, describe_error, is_user_error
from mmseg_procl.utils.weight_conversion import CONVERTERS, convert_weights


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description='Convert backbone weights (verified, with sha256).')
    parser.add_argument('kind', choices=sorted(CONVERTERS), help='what the file holds')
    parser.add_argument('source', help='the downloaded weight file')
    parser.add_argument('--out', help='output file (default: the path the configs read, under pretrained/)')
    parser.add_argument('--overwrite', action='store_true', help='replace an existing output file')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Convert, verify and print the report."""
    args = parse_args(argv)
    try:
        report = convert_weights(args.kind, args.source, args.out, args.overwrite)
    except USER_ERRORS + (FileExistsError,) as err:
        if not isinstance(err, FileExistsError) and not is_user_error(err):
            raise
        print(f'convert_weights.py: error: {describe_error(err)}', file=sys.stderr)
        return 1
    print(f'{report["source"]}: sha256 {report["source_sha256"]} ({report["published_checksum"]})')
    print(f'verified against {report["verified_against"]}: {report["tensors"]} tensors, '
          f'{report["elements"]:,} elements')
    print(f'wrote {report["output"]}: sha256 {report["output_sha256"]}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
