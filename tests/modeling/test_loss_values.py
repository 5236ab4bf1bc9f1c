"""Every distillation term of the shipped presets, value for value, against references written out here from
METHOD.md §5-6 with plain per-image loops (float64), on fixed features, logits, deltas and proposals of 2 images.

The fixture is built so that each stage does something checkable: the text RoIs of a GT box are near copies
(teacher cosine ~1, overlapping boxes: the covariance typing calls them text and merging contracts them into
one node per GT box), the non-text RoIs have a large spatial variance, there are fewer non-text than text nodes
(text weight < 1), and more hard negatives than the cap of 64 (mining binds).
"""

from __future__ import annotations

import math

import pytest
import torch
from conftest import ROOT, tiny_cfg
from detectron2.modeling import build_model
from detectron2.structures import Boxes, Instances
from detectron2.utils.events import EventStorage

import graphkd.modeling  # noqa: F401  (registration)
from graphkd.config import get_graphkd_cfg
from graphkd.distill import background_node_loss, foreground_node_loss
from graphkd.distill.distiller import Negatives
from graphkd.graph import AdaptiveNodeSampler, TextNodeMerge, build_instance_graphs

NUM_CLASSES = 5
BG = NUM_CLASSES  # background class index of the RoI heads
CHANNELS = 64  # student = teacher channels: no adapter, so the reference needs nothing of the model
CELLS = 49
D = CHANNELS * CELLS
BETA = 0.25  # MODEL.ROI_BOX_HEAD.SMOOTH_L1_BETA, not 0 so the test sees it is passed through
TEXT, NONTEXT = 0, 2  # GT classes used for text-like and figure-like boxes
# per image: (text GT boxes, copies of each), (non-text GT boxes, copies of each), negatives
LAYOUT = [
    {
        "text": ([[10, 10, 150, 30], [10, 40, 75, 80], [85, 40, 150, 70]], 3),
        "nontext": ([[20, 90, 140, 125]], 1),
    },
    {
        "text": ([[10, 5, 150, 20], [10, 25, 150, 40], [10, 45, 75, 70], [85, 45, 150, 70]], 2),
        "nontext": ([[10, 80, 70, 125], [80, 80, 150, 125]], 1),
    },
]
NEGATIVES = 100


def _preset(name: str):
    """The GRAPHKD section of a shipped preset (with its _BASE_ chain) and its student's smooth-L1 beta."""
    cfg = get_graphkd_cfg()
    cfg.merge_from_file(str(ROOT / "configs" / "synthetic" / name))
    return cfg


def _model(tiny_teacher, preset):
    teacher_cfg, teacher_weights = tiny_teacher
    cfg = tiny_cfg(
        extra=[
            "MODEL.META_ARCHITECTURE",
            "GraphKDRCNN",
            "MODEL.FPN.OUT_CHANNELS",
            CHANNELS,
            "MODEL.ROI_BOX_HEAD.SMOOTH_L1_BETA",
            BETA,
            "TEACHER.CONFIG_FILE",
            teacher_cfg,
            "TEACHER.WEIGHTS",
            teacher_weights,
        ]
    )
    cfg.GRAPHKD = preset.GRAPHKD.clone()
    torch.manual_seed(0)
    return build_model(cfg)


def _fixture(seed: int = 0) -> dict:
    """Fixed RoIs of 2 images: proposals (boxes, GT classes), pooled features, logits, deltas, FPN maps."""
    gen = torch.Generator().manual_seed(seed)
    proposals, student, teacher, kinds = [], [], [], []
    for image in LAYOUT:
        boxes, classes = [], []
        for kind, cls, spread in (("text", TEXT, 0.05), ("nontext", NONTEXT, 3.0)):
            gt_boxes, copies = image[kind]
            for box in gt_boxes:
                # text: small spatial variance per channel; non-text: large (METHOD.md §2's statistic)
                base = torch.randn(CHANNELS, 1, generator=gen) + spread * torch.randn(
                    CHANNELS, CELLS, generator=gen
                )
                for _ in range(copies):
                    jitter = torch.randint(-2, 3, (4,), generator=gen).float()
                    boxes.append(torch.tensor(box, dtype=torch.float32) + jitter)
                    classes.append(cls)
                    teacher.append(base + 0.02 * torch.randn(CHANNELS, CELLS, generator=gen))
                    kinds.append(kind)
        for _ in range(NEGATIVES):
            xy = torch.rand(2, generator=gen) * torch.tensor([120.0, 100.0])
            wh = 8 + torch.rand(2, generator=gen) * 30
            boxes.append(torch.cat([xy, xy + wh]))
            classes.append(BG)
            teacher.append(torch.randn(CHANNELS, CELLS, generator=gen))
            kinds.append("negative")
        instances = Instances((128, 160))
        instances.proposal_boxes = Boxes(torch.stack(boxes))
        instances.gt_classes = torch.tensor(classes)
        proposals.append(instances)
    teacher = torch.stack(teacher).view(-1, CHANNELS, 7, 7)
    student = teacher + 0.5 * torch.randn(teacher.shape, generator=gen)
    num_rois = teacher.size(0)
    teacher_scores = torch.randn(num_rois, NUM_CLASSES + 1, generator=gen)
    # background logit spread so that CE against background falls on both sides of 0.6
    teacher_scores[:, BG] = torch.rand(num_rois, generator=gen) * 3.0 - 1.0
    student_scores = teacher_scores + torch.randn(num_rois, NUM_CLASSES + 1, generator=gen)
    teacher_deltas = torch.randn(num_rois, 4 * NUM_CLASSES, generator=gen)
    student_deltas = teacher_deltas + 0.4 * torch.randn(num_rois, 4 * NUM_CLASSES, generator=gen)
    levels = {"p2": 32, "p3": 16, "p4": 8, "p5": 4, "p6": 2}
    teacher_fpn = {k: torch.randn(2, CHANNELS, s, s + s // 4, generator=gen) for k, s in levels.items()}
    student_fpn = {k: v + torch.randn(v.shape, generator=gen) for k, v in teacher_fpn.items()}
    return {
        "proposals": proposals,
        "kinds": kinds,
        "student": student.requires_grad_(),
        "teacher": teacher,
        "teacher_out": {
            "features": teacher_fpn,
            "pooled": teacher,
            "scores": teacher_scores,
            "deltas": teacher_deltas,
        },
        "predictions": (student_scores, student_deltas),
        "student_fpn": student_fpn,
    }


# ---------------------------------------------------------------------------------------------------------
# references, written from METHOD.md with loops over images and nodes, in float64


def _ce_background(scores: torch.Tensor) -> torch.Tensor:
    return -torch.log_softmax(scores.double(), dim=1)[:, BG]


def _image_slices(proposals):
    start = 0
    for p in proposals:
        yield range(start, start + len(p))
        start += len(p)


def _cos_matrix(x: torch.Tensor) -> torch.Tensor:
    unit = torch.nn.functional.normalize(x.double().flatten(1), dim=1)
    return unit @ unit.T


def _mse_relation(student: torch.Tensor, teacher: torch.Tensor) -> float:
    return float(0.5 * ((_cos_matrix(student) - _cos_matrix(teacher)) ** 2).mean())


def _mahalanobis_relation(student: torch.Tensor, teacher: torch.Tensor, shrinkage=0.1, eps=1e-4) -> float:
    e_s, e_t = _cos_matrix(student), _cos_matrix(teacher)
    k = e_t.size(0)
    cov = torch.cov(e_t.T)
    sigma = (1 - shrinkage) * cov + (shrinkage * torch.trace(cov) / k + eps) * torch.eye(k, dtype=cov.dtype)
    delta = e_s - e_t
    sq = torch.einsum("pi,ij,pj->p", delta, torch.linalg.inv(sigma), delta)
    return float(((sq + eps).sqrt() - math.sqrt(eps)).mean())


def _sq(student: torch.Tensor, teacher: torch.Tensor) -> float:
    return float(((student.double() - teacher.double()) ** 2).sum())


def _smooth_l1(x: float, beta: float) -> float:
    x = abs(x)
    return x - 0.5 * beta if beta == 0 or x >= beta else 0.5 * x * x / beta


def _extras_reference(fx, per_image_reduce) -> dict:
    """FPN (sum over p2..p6 of per-image means), logit KD (elementwise mean over R_b x (Q+1), T = 1), box KD
    (the GT class's four columns, smooth-L1, / R_b); per image, then reduced."""
    student_scores, student_deltas = fx["predictions"]
    teacher_out = fx["teacher_out"]
    fpn, logit, box = [], [], []
    for b, rows in enumerate(_image_slices(fx["proposals"])):
        fpn.append(
            sum(
                float(
                    ((fx["student_fpn"][k][b].double() - teacher_out["features"][k][b].double()) ** 2).mean()
                )
                for k in ("p2", "p3", "p4", "p5", "p6")
            )
        )
        kl = 0.0
        for r in rows:
            log_t = torch.log_softmax(teacher_out["scores"][r].double(), 0)
            log_s = torch.log_softmax(student_scores[r].detach().double(), 0)
            kl += float((log_t.exp() * (log_t - log_s)).sum())
        logit.append(kl / (len(rows) * (NUM_CLASSES + 1)))
        total = 0.0
        for i, r in enumerate(rows):
            c = int(fx["proposals"][b].gt_classes[i])
            if c < NUM_CLASSES:
                total += sum(
                    _smooth_l1(
                        float(student_deltas[r, 4 * c + a] - teacher_out["deltas"][r, 4 * c + a]), BETA
                    )
                    for a in range(4)
                )
        box.append(total / len(rows))
    return {
        "loss_graphkd_fpn": 0.5 * per_image_reduce(fpn),
        "loss_graphkd_logit": 3.0 * per_image_reduce(logit),
        "loss_graphkd_box": 1.0 * per_image_reduce(box),
    }


def dsig_reference(fx) -> dict:
    """Dsig's R18<-R50 losses (METHOD.md §6's `dsig` preset), each SUMMED over the images."""
    student, teacher, ce = fx["student"].detach(), fx["teacher"], _ce_background(fx["teacher_out"]["scores"])
    fg_terms, bg_terms, edge_terms = [], [], []
    for b, rows in enumerate(_image_slices(fx["proposals"])):
        classes = fx["proposals"][b].gt_classes
        fg = [r for i, r in enumerate(rows) if int(classes[i]) < NUM_CLASSES]
        neg = [r for i, r in enumerate(rows) if int(classes[i]) == BG]
        fg_terms.append(sum(_sq(student[r], teacher[r]) for r in fg) / (D * len(fg)))
        scale = 7.5 * len(fg) / len(neg)
        bg_terms.append(scale * sum(_sq(student[r], teacher[r]) for r in neg) / (D * len(neg)))
        nodes = fg + [r for r in neg if float(ce[r]) >= 0.6]  # every hard negative, no cap
        edge_terms.append(_mse_relation(student[nodes], teacher[nodes]))
    return {
        "loss_graphkd_node_fg": 0.5 * sum(fg_terms),
        "loss_graphkd_node_bg": 0.5 * sum(bg_terms),
        "loss_graphkd_edge": 2.0 * sum(edge_terms),
        **_extras_reference(fx, sum),
    }


def graphkd_reference(fx, edge_weight: float) -> dict:
    """Full GraphKD (METHOD.md §1-6) on the fixture, whose design fixes the typing (text RoIs are the text GT
    boxes' copies) and the merging (one node per text GT box, the mean of its copies): §5's weights, §6's
    terms, Mahalanobis edges over merged text + non-text + the 64 highest-CE hard negatives; means over images."""
    student, teacher, ce = fx["student"].detach(), fx["teacher"], _ce_background(fx["teacher_out"]["scores"])
    fg_terms, bg_terms, edge_terms = [], [], []
    for b, rows in enumerate(_image_slices(fx["proposals"])):
        rows = list(rows)
        kinds = [fx["kinds"][r] for r in rows]
        fg = [r for r, k in zip(rows, kinds) if k != "negative"]
        neg = [r for r, k in zip(rows, kinds) if k == "negative"]
        text_groups, copies = [], LAYOUT[b]["text"][1]
        text_rows = [r for r, k in zip(rows, kinds) if k == "text"]
        for g in range(0, len(text_rows), copies):
            text_groups.append(text_rows[g : g + copies])
        nontext = [r for r, k in zip(rows, kinds) if k == "nontext"]
        merged_s = [student[g].double().mean(0) for g in text_groups] + [student[r].double() for r in nontext]
        merged_t = [teacher[g].double().mean(0) for g in text_groups] + [teacher[r].double() for r in nontext]
        w_text = min(1.0, 1.0 * max(len(nontext), 1) / len(text_groups))
        weights = [w_text] * len(text_groups) + [1.0] * len(nontext)
        numer = sum(w * _sq(s, t) for w, s, t in zip(weights, merged_s, merged_t))
        fg_terms.append(numer / (D * sum(weights)))
        scale = 7.5 * len(fg) / len(neg)  # |fg_b| counts the RoIs before merging
        bg_terms.append(scale * sum(_sq(student[r], teacher[r]) for r in neg) / (D * len(neg)))
        hard = sorted((r for r in neg if float(ce[r]) >= 0.6), key=lambda r: -float(ce[r]))[:64]
        nodes_s = torch.stack(merged_s + [student[r].double() for r in hard])
        nodes_t = torch.stack(merged_t + [teacher[r].double() for r in hard])
        edge_terms.append(_mahalanobis_relation(nodes_s, nodes_t))
    mean = lambda values: sum(values) / len(values)  # noqa: E731
    return {
        "loss_graphkd_node_fg": 0.5 * mean(fg_terms),
        "loss_graphkd_node_bg": 0.5 * mean(bg_terms),
        "loss_graphkd_edge": edge_weight * mean(edge_terms),
        **_extras_reference(fx, mean),
    }


def _model_losses(model, fx) -> dict:
    model.train()
    with EventStorage():
        losses = model.graph_losses(fx["student"], fx["teacher_out"], fx["proposals"])
        losses.update(
            model.extra_losses(fx["student_fpn"], fx["predictions"], fx["teacher_out"], fx["proposals"])
        )
    return losses


def test_fixture_exercises_mining_merging_and_weighting():
    fx = _fixture()
    ce = _ce_background(fx["teacher_out"]["scores"])
    for rows in _image_slices(fx["proposals"]):
        hard = [r for r in rows if fx["kinds"][r] == "negative" and float(ce[r]) >= 0.6]
        assert 64 < len(hard) < NEGATIVES  # the cap binds, the threshold too
    for b in range(2):
        text_boxes = len(LAYOUT[b]["text"][0])
        assert len(LAYOUT[b]["nontext"][0]) < text_boxes  # text weight < 1 after merging


@pytest.mark.parametrize(
    ("preset_file", "reference"),
    [
        ("dsig_R18_from_R50.yaml", lambda fx, preset: dsig_reference(fx)),
        (
            "graphkd_R18_from_R50.yaml",
            lambda fx, preset: graphkd_reference(fx, preset.GRAPHKD.EDGE_LOSS_WEIGHT),
        ),
    ],
    ids=["dsig_preset", "graphkd_config"],
)
def test_preset_losses_equal_the_method_formulas(tiny_teacher, preset_file, reference):
    """Every term of the loss dict, within 1e-5 relative error of the reference written from METHOD.md §6."""
    preset = _preset(preset_file)
    model = _model(tiny_teacher, preset)
    fx = _fixture()
    losses = _model_losses(model, fx)
    expected = reference(fx, preset)
    assert set(losses) == set(expected)
    for key, value in expected.items():
        assert losses[key].item() == pytest.approx(value, rel=1e-5), key


def test_distiller_forward_equals_the_pipeline_assembled_by_hand(tiny_teacher):
    """build -> type -> merge -> sample -> node and edge losses with their lambdas, from the layers alone."""
    preset = _preset("graphkd_R18_from_R50.yaml")
    model = _model(tiny_teacher, preset)
    distiller, g = model.distiller, preset.GRAPHKD
    distiller.text_classes = [TEXT]  # the dataset's text classes: GT types for the logged agreement only
    fx = _fixture(seed=3)
    gt = torch.cat([p.gt_classes for p in fx["proposals"]])
    node_mask, background = model.select_nodes(fx["proposals"], fx["teacher_out"]["scores"])
    image = torch.repeat_interleave(torch.arange(2), torch.tensor([len(p) for p in fx["proposals"]]))
    counts = torch.bincount(image[node_mask], minlength=2).tolist()
    boxes = torch.cat([p.proposal_boxes.tensor for p in fx["proposals"]])[node_mask]
    negative = gt == BG
    negatives = Negatives(fx["student"][negative], fx["teacher"][negative], image[negative])
    losses, stats = distiller(
        fx["student"][node_mask],
        fx["teacher"][node_mask],
        boxes,
        counts,
        background[node_mask],
        gt[node_mask],
        negatives=negatives,
    )

    graphs = build_instance_graphs(
        fx["student"][node_mask],
        fx["teacher"][node_mask],
        boxes,
        counts,
        is_background=background[node_mask],
        gt_classes=gt[node_mask],
        node_type_mode=g.NODE_TYPE.MODE,
        adjacency_gap=g.ADJACENCY.GAP,
        min_axis_overlap=g.ADJACENCY.MIN_AXIS_OVERLAP,
        text_classes=[TEXT],
    )
    merged, cluster = TextNodeMerge(g.MERGE.THRESH, g.MERGE.MAX_ROUNDS, g.MERGE.MIN_TEXT_RATIO)(graphs)
    assert merged.num_nodes < graphs.num_nodes  # merging did something
    sampled = AdaptiveNodeSampler(g.SAMPLING.MODE, g.SAMPLING.BETA)(merged)
    assert float(sampled.weight.min()) < 1.0  # so did the weights
    final = sampled.batch
    fg = final.node_type != 2
    num_fg = torch.bincount(graphs.batch[graphs.node_type != 2], minlength=2)
    fg_term = foreground_node_loss(final.x[fg], final.x_teacher[fg], final.batch[fg], sampled.weight[fg], 2)
    neg_batch = image[negative]
    bg_term = background_node_loss(negatives.student, negatives.teacher, neg_batch, num_fg, g.BG_WEIGHT_ALPHA)
    edge = distiller.edge_loss(final.x, final.x_teacher, final.batch, node_type=final.node_type, num_graphs=2)
    expected = {
        "loss_graphkd_node_fg": g.NODE_LOSS.FG_WEIGHT * fg_term.mean(),
        "loss_graphkd_node_bg": g.NODE_LOSS.BG_WEIGHT * bg_term.mean(),
        "loss_graphkd_edge": g.EDGE_LOSS_WEIGHT * edge,
    }
    assert set(losses) == set(expected)
    for key in expected:
        torch.testing.assert_close(losses[key], expected[key], rtol=1e-6, atol=0.0, msg=key)
    # the logged counts: node types of the built graphs and of the final (merged, sampled) ones, and the share
    # of foreground nodes whose covariance type agrees with the GT type (built graphs only)
    expected_stats = {}
    for prefix, types in (("", graphs.node_type.tolist()), ("final_", final.node_type.tolist())):
        for name, kind in (("text", 0), ("nontext", 1), ("bg", 2)):
            expected_stats[f"graphkd/{prefix}{name}_nodes"] = float(types.count(kind))
    pairs = [
        (t, r)
        for t, r in zip(graphs.node_type.tolist(), graphs.gt_node_type.tolist())
        if t < 2 and r in (0, 1)
    ]
    expected_stats["graphkd/type_agreement"] = sum(t == r for t, r in pairs) / len(pairs)
    assert stats == pytest.approx(expected_stats)
    assert 0 < expected_stats["graphkd/final_text_nodes"] < expected_stats["graphkd/text_nodes"]


def _brute_force_selection(proposals, scores, thresh, cap):
    """Per image: positives, plus the negatives with CE >= thresh, highest CE first, at most ``cap`` (-1: all)."""
    ce = _ce_background(scores)
    node, background = [], []
    for b, rows in enumerate(_image_slices(proposals)):
        classes = proposals[b].gt_classes
        candidates = [r for i, r in enumerate(rows) if int(classes[i]) == BG and float(ce[r]) >= thresh]
        candidates.sort(key=lambda r: (-float(ce[r]), r))
        kept = set(candidates if cap < 0 else candidates[:cap])
        for i, r in enumerate(rows):
            is_fg = int(classes[i]) < NUM_CLASSES
            node.append(is_fg or r in kept)
            background.append(r in kept)
    return torch.tensor(node), torch.tensor(background)


@pytest.mark.parametrize(
    ("thresh", "cap", "mining"),
    [(0.6, 64, True), (0.6, 10, True), (0.6, -1, True), (1.2, 64, True), (0.6, 0, True), (0.6, 1, True)]
    + [(0.6, 64, False)],
)
def test_select_nodes_equals_brute_force_per_image(tiny_teacher, thresh, cap, mining):
    preset = _preset("graphkd_R18_from_R50.yaml")
    preset.GRAPHKD.BG_MINING.ENABLED = mining
    preset.GRAPHKD.BG_MINING.THRESH = thresh
    preset.GRAPHKD.BG_MINING.MAX_PER_IMAGE = cap
    model = _model(tiny_teacher, preset)
    fx = _fixture(seed=1)
    node, background = model.select_nodes(fx["proposals"], fx["teacher_out"]["scores"])
    ref_node, ref_background = _brute_force_selection(
        fx["proposals"],
        fx["teacher_out"]["scores"],
        thresh,
        cap if mining else 0,  # off: no negative is kept
    )
    assert torch.equal(node, ref_node) and torch.equal(background, ref_background)
    if cap == 10:
        assert int(background.sum()) == 20


def test_node_inputs_count_a_trailing_image_without_nodes(tiny_teacher):
    """A third image whose RoIs are all easy negatives (teacher CE against background < 0.6) has 0 graph nodes
    and still counts: ``num_nodes`` has one entry per image, and its negatives feed the background term."""
    model = _model(tiny_teacher, _preset("graphkd_R18_from_R50.yaml"))
    fx = _fixture(seed=2)
    easy = Instances((128, 160))
    easy.proposal_boxes = Boxes(torch.tensor([[0.0, 0.0, 20.0, 20.0], [30.0, 30.0, 60.0, 50.0]]))
    easy.gt_classes = torch.tensor([BG, BG])
    proposals = [*fx["proposals"], easy]
    easy_scores = torch.zeros(2, NUM_CLASSES + 1)
    easy_scores[:, BG] = 10.0  # CE against background ~ 0: never mined
    teacher_out = dict(fx["teacher_out"])
    teacher_out["scores"] = torch.cat([teacher_out["scores"], easy_scores])
    teacher_out["pooled"] = torch.cat([teacher_out["pooled"], torch.ones(2, CHANNELS, 7, 7)])
    student = torch.cat([fx["student"].detach(), torch.zeros(2, CHANNELS, 7, 7)])
    nodes = model.node_inputs(proposals, student, teacher_out)
    ref_node, _ = _brute_force_selection(proposals, teacher_out["scores"], 0.6, 64)
    per_image = [int(ref_node[list(rows)].sum()) for rows in _image_slices(proposals)]
    assert per_image[2] == 0 and min(per_image[:2]) > 0
    assert nodes.num_nodes == per_image
    assert nodes.negatives.batch.tolist().count(2) == 2


def test_distiller_without_negatives_uses_the_graphs_background_nodes(tiny_teacher):
    """RetinaNet students and lone pages pass no ``negatives``: the background term then runs over the graphs'
    mined background nodes, s_b = alpha * |fg_b| / |bg_b| (METHOD.md §6 with neg_b = the mined nodes). A
    trailing image without nodes counts in the mean over the 3 images. Float64 loops over images and nodes."""
    preset = _preset("graphkd_R18_from_R50.yaml")
    model = _model(tiny_teacher, preset)
    g = preset.GRAPHKD
    fx = _fixture(seed=3)
    gt = torch.cat([p.gt_classes for p in fx["proposals"]])
    node_mask, background = model.select_nodes(fx["proposals"], fx["teacher_out"]["scores"])
    image = torch.repeat_interleave(torch.arange(2), torch.tensor([len(p) for p in fx["proposals"]]))
    counts = torch.bincount(image[node_mask], minlength=2).tolist()
    inputs = (
        fx["student"][node_mask],
        fx["teacher"][node_mask],
        torch.cat([p.proposal_boxes.tensor for p in fx["proposals"]])[node_mask],
    )
    with_empty, _ = model.distiller(*inputs, [*counts, 0], background[node_mask], gt[node_mask])
    two_images, _ = model.distiller(*inputs, counts, background[node_mask], gt[node_mask])

    student, teacher = fx["student"][node_mask].detach().double(), fx["teacher"][node_mask].double()
    node_image, node_bg = image[node_mask], background[node_mask]
    bg_terms = []
    for b in range(2):
        fg_rows = [i for i in range(len(node_image)) if node_image[i] == b and not node_bg[i]]
        bg_rows = [i for i in range(len(node_image)) if node_image[i] == b and node_bg[i]]
        assert fg_rows and bg_rows
        scale = g.BG_WEIGHT_ALPHA * len(fg_rows) / len(bg_rows)
        total = sum(float(((student[i] - teacher[i]) ** 2).sum()) for i in bg_rows)
        bg_terms.append(scale * total / (D * len(bg_rows)))
    expected_bg = g.NODE_LOSS.BG_WEIGHT * sum(bg_terms) / 3  # the empty third image adds 0 and counts
    assert with_empty["loss_graphkd_node_bg"].item() == pytest.approx(expected_bg, rel=1e-5)
    # the foreground term's per-image mean also counts the empty image; the edge loss skips it
    assert with_empty["loss_graphkd_node_fg"].item() == pytest.approx(
        two_images["loss_graphkd_node_fg"].item() * 2 / 3, rel=1e-5
    )
    assert with_empty["loss_graphkd_edge"].item() == pytest.approx(
        two_images["loss_graphkd_edge"].item(), rel=1e-5
    )


@pytest.mark.parametrize(("fpn", "logit", "box"), [(0.0, 0.5, 0.0), (0.25, 0.0, 0.75)])
def test_each_extra_is_on_exactly_when_its_weight_is_positive(tiny_teacher, fpn, logit, box):
    """A weight of 0 leaves its term out of the loss dict; any positive weight (also below 1) scales it."""
    preset = _preset("graphkd_R18_from_R50.yaml")
    preset.GRAPHKD.EXTRAS.FPN_WEIGHT, preset.GRAPHKD.EXTRAS.LOGIT_WEIGHT = fpn, logit
    preset.GRAPHKD.EXTRAS.BOX_WEIGHT = box
    model = _model(tiny_teacher, preset)
    fx = _fixture(seed=4)
    with EventStorage():
        extras = model.extra_losses(fx["student_fpn"], fx["predictions"], fx["teacher_out"], fx["proposals"])
    on = {key for key, weight in (("fpn", fpn), ("logit", logit), ("box", box)) if weight > 0}
    assert set(extras) == {f"loss_graphkd_{key}" for key in on}
    # each present term is its weight times the unweighted term (computed with weight 1)
    unit = _preset("graphkd_R18_from_R50.yaml")
    unit.GRAPHKD.EXTRAS.FPN_WEIGHT = unit.GRAPHKD.EXTRAS.LOGIT_WEIGHT = unit.GRAPHKD.EXTRAS.BOX_WEIGHT = 1.0
    with EventStorage():
        ones = _model(tiny_teacher, unit).extra_losses(
            fx["student_fpn"], fx["predictions"], fx["teacher_out"], fx["proposals"]
        )
    for key, weight in (("fpn", fpn), ("logit", logit), ("box", box)):
        if weight > 0:
            torch.testing.assert_close(extras[f"loss_graphkd_{key}"], weight * ones[f"loss_graphkd_{key}"])


def test_select_nodes_keeps_a_negative_whose_ce_equals_the_threshold(tiny_teacher):
    """Mining keeps CE >= threshold (METHOD.md §1): with the threshold at one negative's exact CE (float32, as
    the teacher's scores are), that negative is kept; with a cap above every image's candidate count, exactly
    the candidates are kept, also those with CE below 1 (ranked above every non-candidate)."""
    fx = _fixture(seed=1)
    scores = fx["teacher_out"]["scores"]
    ce = -torch.log_softmax(scores.float(), dim=1)[:, BG]  # cross-entropy against "background", float32
    negative = torch.cat([p.gt_classes for p in fx["proposals"]]) == BG
    low = ce[negative & (ce > 0.6) & (ce < 1.0)]
    assert low.numel() > 0
    thresh = float(low.min())
    preset = _preset("graphkd_R18_from_R50.yaml")
    preset.GRAPHKD.BG_MINING.THRESH = thresh
    preset.GRAPHKD.BG_MINING.MAX_PER_IMAGE = NEGATIVES + 1
    model = _model(tiny_teacher, preset)
    node, background = model.select_nodes(fx["proposals"], scores)
    expected = negative & (ce >= thresh)
    assert int((negative & (ce == thresh)).sum()) >= 1
    assert torch.equal(background, expected) and torch.equal(node, ~negative | expected)
