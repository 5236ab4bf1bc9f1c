"""A timm ViT as a detectron2 FPN-like backbone, with ViTDet's simple feature pyramid (arXiv 2203.16527).

The plain ViT gives one stride-16 map; the simple feature pyramid turns it into strides 4, 8, 16, 32 with
deconvolutions and max-pooling, and a max-pooled p6 follows, so the outputs (``p2``..``p6``) are those of
``build_resnet_fpn_backbone`` and any Faster R-CNN config can use a ViT teacher (heterogeneous GraphKD:
the distiller's 1x1 adapter maps the student's channels onto the teacher's when they differ).

Shapes: ``B`` images, ``D`` ViT embedding width, ``C`` output channels.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

from detectron2.layers import ShapeSpec
from detectron2.modeling import BACKBONE_REGISTRY
from detectron2.modeling.backbone import Backbone
from torch import Tensor, nn
from torch.nn import functional as F

from .backbones import cached_pretrained_kwargs

__all__ = ["ViTSimpleFeaturePyramid", "build_vit_sfp_backbone"]

logger = logging.getLogger(__name__)


class ViTSimpleFeaturePyramid(Backbone):
    """A timm ViT whose last stride-16 map is rescaled by ``scale_factors`` into p2..p5, plus a pooled p6.

    Each level: ``scale`` 4 = two 2x deconvolutions, 2 = one, 1 = identity, 0.5 = 2x2 max-pooling; then a 1x1
    and a 3x3 convolution to ``out_channels``, each followed by a channels-first LayerNorm (ViTDet's design).
    """

    def __init__(
        self,
        model_name: str = "vit_base_patch16_224",
        img_size: Sequence[int] = (1024, 1024),
        out_channels: int = 256,
        scale_factors: Sequence[float] = (4.0, 2.0, 1.0, 0.5),
        pretrained: bool = False,
        drop_path_rate: float = 0.0,
        in_chans: int = 3,
    ) -> None:
        super().__init__()
        import timm
        from timm.layers import LayerNorm2d

        create_kwargs = cached_pretrained_kwargs(model_name, pretrained, "MODEL.VIT.PRETRAINED")
        self.vit = timm.create_model(
            model_name,
            pretrained=pretrained,
            img_size=tuple(img_size),
            dynamic_img_size=True,  # position embeddings interpolated to each batch's padded size
            num_classes=0,
            drop_path_rate=drop_path_rate,
            in_chans=in_chans,
            **create_kwargs,
        )
        patch_size = self.vit.patch_embed.patch_size
        if tuple(patch_size) != (16, 16):
            raise ValueError(f"MODEL.VIT.NAME {model_name} has patch size {patch_size}; the pyramid needs 16")
        dim = self.vit.embed_dim
        self.stages = nn.ModuleList()
        self._out_features, self._out_feature_strides, self._out_feature_channels = [], {}, {}
        for scale in scale_factors:
            if scale == 4.0:
                layers = [
                    nn.ConvTranspose2d(dim, dim // 2, kernel_size=2, stride=2),
                    LayerNorm2d(dim // 2),
                    nn.GELU(),
                    nn.ConvTranspose2d(dim // 2, dim // 4, kernel_size=2, stride=2),
                ]
                channels = dim // 4
            elif scale == 2.0:
                layers, channels = [nn.ConvTranspose2d(dim, dim // 2, kernel_size=2, stride=2)], dim // 2
            elif scale == 1.0:
                layers, channels = [], dim
            elif scale == 0.5:
                layers, channels = [nn.MaxPool2d(kernel_size=2, stride=2)], dim
            else:
                raise ValueError(f"MODEL.VIT.SCALE_FACTORS: {scale} is not one of 4.0, 2.0, 1.0, 0.5")
            layers += [
                nn.Conv2d(channels, out_channels, kernel_size=1, bias=False),
                LayerNorm2d(out_channels),
                nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False),
                LayerNorm2d(out_channels),
            ]
            self.stages.append(nn.Sequential(*layers))
            stride = int(16 / scale)
            name = f"p{int(math.log2(stride))}"
            self._out_features.append(name)
            self._out_feature_strides[name] = stride
        top = self._out_features[-1]
        top_stride = self._out_feature_strides[top]
        self._top_name = f"p{int(math.log2(top_stride)) + 1}"  # max-pooled extra level, like LastLevelMaxPool
        self._out_features.append(self._top_name)
        self._out_feature_strides[self._top_name] = 2 * top_stride
        self._out_feature_channels = {name: out_channels for name in self._out_features}

    @property
    def size_divisibility(self) -> int:
        return max(self._out_feature_strides.values())

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        tokens = self.vit.forward_features(x)[:, self.vit.num_prefix_tokens :]  # (B, H/16 * W/16, D)
        height, width = x.shape[-2] // 16, x.shape[-1] // 16
        feature_map = tokens.transpose(1, 2).reshape(x.size(0), -1, height, width)  # (B, D, H/16, W/16)
        outputs = {
            name: stage(feature_map) for name, stage in zip(self._out_features[:-1], self.stages, strict=True)
        }  # each (B, C, H/s, W/s)
        outputs[self._top_name] = F.max_pool2d(outputs[self._out_features[-2]], kernel_size=1, stride=2)
        return outputs

    def output_shape(self) -> dict[str, ShapeSpec]:
        return {
            name: ShapeSpec(channels=self._out_feature_channels[name], stride=self._out_feature_strides[name])
            for name in self._out_features
        }


@BACKBONE_REGISTRY.register()
def build_vit_sfp_backbone(cfg, input_shape: ShapeSpec) -> ViTSimpleFeaturePyramid:
    """:class:`ViTSimpleFeaturePyramid` from ``MODEL.VIT.*``, with ``MODEL.FPN.OUT_CHANNELS`` channels."""
    return ViTSimpleFeaturePyramid(
        model_name=cfg.MODEL.VIT.NAME,
        img_size=cfg.MODEL.VIT.IMG_SIZE,
        out_channels=cfg.MODEL.FPN.OUT_CHANNELS,
        scale_factors=cfg.MODEL.VIT.SCALE_FACTORS,
        pretrained=cfg.MODEL.VIT.PRETRAINED,
        drop_path_rate=cfg.MODEL.VIT.DROP_PATH_RATE,
        in_chans=input_shape.channels,
    )
