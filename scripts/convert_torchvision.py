"""Convert a torchvision ResNet's ImageNet weights to a detectron2 checkpoint (R-18/34/50/101/152).

    python scripts/convert_torchvision.py resnet18-f37072fd.pth pretrained/R-18.pkl

detectron2 has no ImageNet weights for R-18/R-34 (its tools/convert-torchvision-to-d2.py converts torchvision's);
this does the same renames (graphkd.modeling.pretrained.convert_torchvision_resnet) and drops the classifier.
Use the result as MODEL.WEIGHTS with the torchvision-convention configs (configs/Base-R18-FPN-ImageNet.yaml:
RGB, torchvision mean/std, STRIDE_IN_1X1 False); the torchvision file is one you downloaded yourself
(e.g. torch.hub's cache after torchvision.models.resnet18(weights="IMAGENET1K_V1")): nothing is fetched here.
"""

from __future__ import annotations

import argparse
import logging

from graphkd.modeling.pretrained import convert_torchvision_file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", help="torchvision ResNet state dict (.pth)")
    parser.add_argument("output", help="detectron2 checkpoint to write (.pkl)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    converted = convert_torchvision_file(args.input, args.output)
    logging.info("wrote %s: %d tensors (torchvision names -> detectron2's)", args.output, len(converted))


if __name__ == "__main__":
    main()
