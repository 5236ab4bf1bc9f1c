"""GraphKD's config keys, added to a detectron2 config by :func:`add_graphkd_config`.

Every open choice of the method (../shared/METHOD.md) is a key here, so an ablation is a config diff. A leaf
module, as detectron2 projects' ``config.py`` are: key definitions only; loading a config file (and registering
GraphKD's components and datasets) is :func:`graphkd.engine.setup.load_config`.
"""

from __future__ import annotations

from detectron2.config import CfgNode as CN

# GraphKD meta-architectures and the plain detectron2 one their student is (for inference and export)
PLAIN_STUDENT_ARCHITECTURE = {"GraphKDRCNN": "GeneralizedRCNN", "GraphKDRetinaNet": "RetinaNet"}


def add_graphkd_config(cfg: CN) -> CN:
    """Add ``TEACHER.*``, ``GRAPHKD.*``, ``MODEL.TIMM.*`` and ``DATASETS.REGISTER`` to ``cfg`` in place."""
    if "GRAPHKD" in cfg:  # already added (e.g. a config file loaded twice)
        return cfg
    cfg.TEACHER = CN()
    # detectron2 config file of the frozen teacher (relative paths resolve against the working directory)
    cfg.TEACHER.CONFIG_FILE = ""
    # teacher checkpoint: detectron2 .pth/.pkl, model-zoo style, or the paper's merged student-teacher file
    cfg.TEACHER.WEIGHTS = ""
    # extra KEY VALUE overrides applied to the teacher config after CONFIG_FILE
    cfg.TEACHER.OPTS = []
    # the teacher's class names in its output order (a model-zoo/layoutparser teacher's label map); checked
    # against the student's training classes; empty = its config's DATASETS.TRAIN classes, when registered here
    cfg.TEACHER.THING_CLASSES = []
    # shortest image side the teacher sees (its pages are resized, node boxes rescaled); 0 = the student's
    cfg.TEACHER.INPUT_MIN_SIZE = 0

    cfg.GRAPHKD = CN()
    cfg.GRAPHKD.NODE_LOSS = CN()
    # weight of the node loss's foreground term (sampler-weighted mean over the final fg nodes), lambda_fg
    cfg.GRAPHKD.NODE_LOSS.FG_WEIGHT = 0.5
    # weight of its background term (all negative RoIs, scaled by alpha * |fg| / |neg|), lambda_bg
    cfg.GRAPHKD.NODE_LOSS.BG_WEIGHT = 0.5
    # weight of the edge (relation) distillation loss, lambda_edge
    cfg.GRAPHKD.EDGE_LOSS_WEIGHT = 1.0

    cfg.GRAPHKD.BG_MINING = CN()
    # add mined background RoIs (negatives the teacher finds hard) as graph nodes
    cfg.GRAPHKD.BG_MINING.ENABLED = True
    # minimum teacher cross-entropy against "background" for a negative RoI to become a node
    cfg.GRAPHKD.BG_MINING.THRESH = 0.6
    # at most this many background nodes per image, the highest-CE ones; -1 = no cap (Dsig), 0 = none
    cfg.GRAPHKD.BG_MINING.MAX_PER_IMAGE = 64

    cfg.GRAPHKD.NODE_TYPE = CN()
    # text/non-text split of foreground nodes: "covariance" (label-free, the paper's) or "gt"
    cfg.GRAPHKD.NODE_TYPE.MODE = "covariance"
    # text-like class names; empty = the training dataset's metadata `text_classes`
    cfg.GRAPHKD.NODE_TYPE.TEXT_CLASSES = []

    cfg.GRAPHKD.ADJACENCY = CN()
    # vertical (horizontal) gap, in median node heights (widths), under which aligned boxes are adjacent
    cfg.GRAPHKD.ADJACENCY.GAP = 1.0
    # fraction of the narrower extent two boxes must share to count as the same column (row)
    cfg.GRAPHKD.ADJACENCY.MIN_AXIS_OVERLAP = 0.5

    cfg.GRAPHKD.MERGE = CN()
    # merge similar adjacent text nodes before the losses
    cfg.GRAPHKD.MERGE.ENABLED = True
    # teacher cosine similarity at or above which two adjacent text nodes merge
    cfg.GRAPHKD.MERGE.THRESH = 0.8
    # merging rounds at most
    cfg.GRAPHKD.MERGE.MAX_ROUNDS = 3
    # stop merging once text nodes <= this ratio x non-text nodes
    cfg.GRAPHKD.MERGE.MIN_TEXT_RATIO = 1.0

    cfg.GRAPHKD.SAMPLING = CN()
    # "weight" (down-weight text nodes), "sample" (drop surplus text nodes) or "none" (Dsig: every node 1)
    cfg.GRAPHKD.SAMPLING.MODE = "weight"
    # target text : non-text ratio, beta
    cfg.GRAPHKD.SAMPLING.BETA = 1.0
    # Dsig's background scale alpha of the node loss's background term (s_b = alpha * |fg_b| / |neg_b|)
    cfg.GRAPHKD.BG_WEIGHT_ALPHA = 7.5
    # how every distillation term is reduced over the process's images: "mean" (METHOD.md) or "sum" (Dsig)
    cfg.GRAPHKD.IMAGE_REDUCTION = "mean"

    cfg.GRAPHKD.EDGE_LOSS = CN()
    # relation-edge loss: "mahalanobis", "mahalanobis_diag" or "mse" (Dsig)
    cfg.GRAPHKD.EDGE_LOSS.TYPE = "mahalanobis"
    # covariance shrinkage lambda towards tr(Sigma)/K * I
    cfg.GRAPHKD.EDGE_LOSS.SHRINKAGE = 0.1
    # numerical epsilon added to the covariance diagonal and under the square root
    cfg.GRAPHKD.EDGE_LOSS.EPS = 1e-4
    # EMA momentum of the per-edge-type variances ("mahalanobis_diag")
    cfg.GRAPHKD.EDGE_LOSS.MOMENTUM = 0.99

    cfg.GRAPHKD.EXTRAS = CN()
    # weight of Dsig's FPN feature MSE, summed over the levels (0 = off; Dsig uses 0.5)
    cfg.GRAPHKD.EXTRAS.FPN_WEIGHT = 0.0
    # weight of RoI classification-logit KD (0 = off; Dsig uses 3.0)
    cfg.GRAPHKD.EXTRAS.LOGIT_WEIGHT = 0.0
    # temperature of the RoI logit KD
    cfg.GRAPHKD.EXTRAS.LOGIT_TEMPERATURE = 1.0
    # weight of the RoI box-delta KD (smooth L1 on the GT class's columns, / all RoIs; 0 = off; Dsig uses 1.0)
    cfg.GRAPHKD.EXTRAS.BOX_WEIGHT = 0.0

    # RetinaNet students: at most this many of the student's own detections per image become graph nodes
    cfg.GRAPHKD.RETINANET_NODES_PER_IMAGE = 100
    # RetinaNet students: minimum detection score for a node (0 = the top ones whatever their score)
    cfg.GRAPHKD.RETINANET_NODE_SCORE_THRESH = 0.0
    # RetinaNet students: IoU with a GT box at or above which a detection node is foreground of its class
    cfg.GRAPHKD.RETINANET_NODE_FG_IOU = 0.5

    cfg.MODEL.TIMM = CN()
    # timm model name for the "build_timm_fpn_backbone" backbone (e.g. mobilenetv2_100, efficientnet_b0)
    cfg.MODEL.TIMM.NAME = "mobilenetv2_100"
    # timm feature indices exported as res2..res5 (strides 4, 8, 16, 32)
    cfg.MODEL.TIMM.OUT_INDICES = [1, 2, 3, 4]
    # load timm's pretrained ImageNet weights (needs them in the local timm/HF cache: nothing is downloaded)
    cfg.MODEL.TIMM.PRETRAINED = False
    # local file of the full timm model's ImageNet weights (state dict / pytorch_model.bin / .safetensors); "" = none
    cfg.MODEL.TIMM.PRETRAINED_FILE = ""
    # "BN" (trainable, from scratch) or "FrozenBN" (ImageNet statistics kept, as MODEL.RESNETS.NORM FrozenBN)
    cfg.MODEL.TIMM.NORM = "BN"
    # freeze the first N timm feature stages (0 = train all)
    cfg.MODEL.TIMM.FREEZE_AT = 0

    cfg.MODEL.VIT = CN()
    # timm ViT name for the "build_vit_sfp_backbone" backbone (patch size 16, e.g. vit_base_patch16_224)
    cfg.MODEL.VIT.NAME = "vit_base_patch16_224"
    # image size the ViT's position embeddings are built for (interpolated to each padded batch size)
    cfg.MODEL.VIT.IMG_SIZE = [1024, 1024]
    # simple-feature-pyramid rescalings of the stride-16 map: 4.0, 2.0, 1.0, 0.5 give p2..p5
    cfg.MODEL.VIT.SCALE_FACTORS = [4.0, 2.0, 1.0, 0.5]
    # load timm's pretrained weights (needs them in the local timm/HF cache: nothing is downloaded)
    cfg.MODEL.VIT.PRETRAINED = False
    # stochastic depth rate of the ViT blocks
    cfg.MODEL.VIT.DROP_PATH_RATE = 0.0

    # extra COCO datasets to register, "name=annotations.json:image_root[:text_class,...]" each
    cfg.DATASETS.REGISTER = []
    # skip training images that cannot be read (with a warning) instead of stopping with their file name
    cfg.DATALOADER.SKIP_BAD_IMAGES = False
    return cfg


def get_graphkd_cfg() -> CN:
    """detectron2's default config plus GraphKD's keys."""
    from detectron2.config import get_cfg

    return add_graphkd_config(get_cfg())


def as_plain_student(cfg: CN) -> CN:
    """``cfg`` with a GraphKD meta-architecture replaced by its plain student's (no teacher is built)."""
    arch = cfg.MODEL.META_ARCHITECTURE
    if arch not in PLAIN_STUDENT_ARCHITECTURE:
        return cfg
    cfg = cfg.clone()
    was_frozen = cfg.is_frozen()
    cfg.defrost()
    cfg.MODEL.META_ARCHITECTURE = PLAIN_STUDENT_ARCHITECTURE[arch]
    if was_frozen:
        cfg.freeze()
    return cfg
