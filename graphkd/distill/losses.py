"""Node and edge distillation losses on instance graphs (METHOD.md section 6).

Shapes: ``N`` nodes of a batch, ``D`` flattened feature size (C * P), ``G`` graphs, ``K`` nodes of one graph
(``Kmax`` the largest in the batch). Features may be ``(N, D)`` or ``(N, C, 7, 7)``; they are flattened.
``batch`` maps each node to its graph and is sorted, as in a PyG ``Batch``.

Every loss detaches the teacher side and computes in float32 (also under autocast). The node terms return one
value per image (reduced by ``reduce_images``); the edge losses average (or sum) over the graphs that have
something to compare and, when no graph has, return a zero that is still connected to the student's
features, so ``loss.backward()`` works in every iteration.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch_geometric.utils import scatter, to_dense_batch

from graphkd.graph.groups import resolve_num_graphs

__all__ = [
    "EDGE_LOSSES",
    "DiagMahalanobisEdgeLoss",
    "MSEEdgeLoss",
    "MahalanobisEdgeLoss",
    "build_edge_loss",
    "edge_type_matrix",
    "IMAGE_REDUCTIONS",
    "background_node_loss",
    "foreground_node_loss",
    "reduce_images",
    "relation_matrices",
]

NUM_EDGE_TYPES = 4  # text-text, text-nontext, nontext-nontext, any-background
BACKGROUND = 2  # node_type value of background nodes (0 text, 1 non-text)


def _zero_like_graph(student_x: Tensor) -> Tensor:
    """A float32 zero that keeps ``student_x`` in the autograd graph (gradient 0)."""
    return student_x.float().sum() * 0.0


def _flat32(x: Tensor) -> Tensor:
    return x.flatten(1).float()


def relation_matrices(x: Tensor, batch: Tensor, num_graphs: int | None = None) -> tuple[Tensor, Tensor]:
    """Cosine-similarity relation matrices per graph: (G, Kmax, Kmax) dense, zero-padded, and node mask (G, Kmax).

    ``E[g, p, q] = cos(x_p, x_q)`` for nodes p, q of graph g, diagonal included (1, or 0 for an all-zero
    feature). Computed in float32 even under autocast; gradients flow to ``x``.
    """
    num_graphs = resolve_num_graphs(batch, num_graphs)
    if x.size(0) == 0:
        empty = torch.zeros(num_graphs, 0, 0, dtype=torch.float32, device=x.device)
        return empty, torch.zeros(num_graphs, 0, dtype=torch.bool, device=x.device)
    with torch.autocast(device_type=x.device.type, enabled=False):
        unit = nn.functional.normalize(_flat32(x), dim=1)  # (N, D)
        dense, mask = to_dense_batch(unit, batch, batch_size=num_graphs)  # (G, Kmax, D), (G, Kmax)
        relation = dense @ dense.transpose(1, 2)  # (G, Kmax, Kmax)
    return relation, mask


IMAGE_REDUCTIONS = ("mean", "sum")


def reduce_images(per_image: Tensor, reduction: str) -> Tensor:
    """``mean`` (METHOD.md §6: every term a mean over the process's images) or ``sum`` (Dsig: summed over
    the images of one GPU) of a (G,) vector of per-image terms; an empty vector gives 0."""
    if reduction not in IMAGE_REDUCTIONS:
        raise ValueError(f"image reduction must be one of {IMAGE_REDUCTIONS}, got {reduction!r}")
    if per_image.numel() == 0:
        return per_image.sum()
    return per_image.sum() if reduction == "sum" else per_image.mean()


def _per_node_sq_error(student_x: Tensor, teacher_x: Tensor) -> tuple[Tensor, int]:
    """``(||s_i - t_i||^2 (N,), D)`` in float32, the teacher detached."""
    student = _flat32(student_x)
    teacher = _flat32(teacher_x.detach())
    if student.shape != teacher.shape:
        raise ValueError(f"student {tuple(student.shape)} and teacher {tuple(teacher.shape)} differ")
    return (student - teacher).pow(2).sum(dim=1), student.size(1)


def foreground_node_loss(
    student_x: Tensor,
    teacher_x: Tensor,
    batch: Tensor,
    weight: Tensor | None = None,
    num_graphs: int | None = None,
) -> Tensor:
    """Per image, the weighted foreground feature imitation of METHOD.md §6, shape (G,):

    ``L_b = sum_{i in b} w_i ||s_i - t_i||^2 / (D * sum_{i in b} w_i)``, 0 for an image whose nodes weigh 0
    (or that has none). Pass the foreground nodes only; ``weight`` (N,) defaults to 1 and gets no gradient.
    """
    num_graphs = resolve_num_graphs(batch, num_graphs)
    with torch.autocast(device_type=student_x.device.type, enabled=False):
        sq_error, dim = _per_node_sq_error(student_x, teacher_x)
        weight = sq_error.new_ones(sq_error.size(0)) if weight is None else weight.detach().float()
        numer = scatter(weight * sq_error, batch, dim=0, dim_size=num_graphs, reduce="sum")  # (G,)
        denom = scatter(weight, batch, dim=0, dim_size=num_graphs, reduce="sum")  # (G,)
        per_image = torch.where(denom > 0, numer / (denom.clamp_min(1e-12) * dim), torch.zeros_like(numer))
        return per_image + _zero_like_graph(student_x)


def background_node_loss(
    student_x: Tensor,
    teacher_x: Tensor,
    batch: Tensor,
    num_foreground: Tensor,
    alpha: float = 7.5,
) -> Tensor:
    """Per image, Dsig's background feature imitation over ALL negatives (METHOD.md §6), shape (G,):

    ``L_b = s_b * sum_{j in neg_b} ||s_j - t_j||^2 / (D * |neg_b|)`` with ``s_b = alpha * |fg_b| / |neg_b|``;
    0 for an image without negatives (or without foreground). ``num_foreground`` (G,) holds ``|fg_b|`` of
    every image, so it also gives the image count.
    """
    num_graphs = num_foreground.numel()
    if batch.numel() > 0 and int(batch.max()) >= num_graphs:
        raise ValueError(f"negatives of image {int(batch.max())}, but num_foreground has {num_graphs} images")
    with torch.autocast(device_type=student_x.device.type, enabled=False):
        sq_error, dim = _per_node_sq_error(student_x, teacher_x)
        total = scatter(sq_error, batch, dim=0, dim_size=num_graphs, reduce="sum")  # (G,)
        count = torch.bincount(batch, minlength=num_graphs).to(total.dtype)  # (G,) |neg_b|
        scale = alpha * num_foreground.to(total.device, total.dtype) / count.clamp_min(1)  # (G,) s_b
        per_image = scale * total / (count.clamp_min(1) * dim)
        return per_image + _zero_like_graph(student_x)


def _teacher_student_relations(
    student_x: Tensor, teacher_x: Tensor, batch: Tensor, num_graphs: int | None
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Relation matrices of the graphs with K >= 2: (E^S, E^T, node mask, K), E^T without gradient."""
    if student_x.shape != teacher_x.shape:
        raise ValueError(f"student {tuple(student_x.shape)} and teacher {tuple(teacher_x.shape)} differ")
    num_graphs = resolve_num_graphs(batch, num_graphs)
    student_rel, mask = relation_matrices(student_x, batch, num_graphs)
    with torch.no_grad():
        teacher_rel, _ = relation_matrices(teacher_x.detach(), batch, num_graphs)
    counts = mask.sum(dim=1)  # (G,)
    keep = counts >= 2
    return student_rel[keep], teacher_rel[keep], mask[keep], counts[keep]


def _mean_row_distance(sq_dist: Tensor, mask: Tensor, counts: Tensor, eps: float) -> Tensor:
    """Per graph ``mean_p (sqrt(sq_dist_gp + eps) - sqrt(eps))`` over valid rows, (G,); the offset makes
    L(s, s) = 0."""
    row = (sq_dist.clamp_min(0.0) + eps).sqrt() - math.sqrt(eps)  # (G, Kmax)
    return (row * mask).sum(dim=1) / counts  # (G,)


class _Relations(NamedTuple):
    """The relation matrices of the graphs with K >= 2 (G of them), as every edge loss compares them."""

    student: Tensor  # (G, Kmax, Kmax), zero-padded
    teacher: Tensor  # (G, Kmax, Kmax), detached
    mask: Tensor  # (G, Kmax) valid nodes
    counts: Tensor  # (G,) K per graph
    batch: Tensor  # (N,) node -> graph of all graphs (also those with K < 2)
    num_graphs: int  # all graphs


class _EdgeLoss(nn.Module):
    """Common part of the edge losses: how the per-graph values of the graphs with K >= 2 are reduced.

    ``reduction`` ``"mean"`` averages them (METHOD.md §6), ``"sum"`` adds them (Dsig, per GPU).
    """

    # the name of a loss that needs ``node_type`` (for its error message); "" = it does not
    needs_node_type = ""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in IMAGE_REDUCTIONS:
            raise ValueError(f"edge loss reduction must be one of {IMAGE_REDUCTIONS}, got {reduction!r}")
        self.reduction = reduction

    def reduce(self, per_graph: Tensor) -> Tensor:
        return reduce_images(per_graph, self.reduction)

    def forward(
        self,
        student_x: Tensor,
        teacher_x: Tensor,
        batch: Tensor,
        node_type: Tensor | None = None,
        num_graphs: int | None = None,
    ) -> Tensor:
        """The loss reduced (``reduction``) over the graphs with K >= 2, in float32 (also under autocast); a
        zero still connected to ``student_x`` when no graph has two nodes. ``node_type`` (N,) is used by the
        losses that need it (``mahalanobis_diag``)."""
        if self.needs_node_type and node_type is None:
            raise ValueError(f"{self.needs_node_type} needs node_type (0 text, 1 non-text, 2 background)")
        num_graphs = resolve_num_graphs(batch, num_graphs)
        with torch.autocast(device_type=student_x.device.type, enabled=False):
            student_rel, teacher_rel, mask, counts = _teacher_student_relations(
                student_x, teacher_x, batch, num_graphs
            )
            if counts.numel() == 0:
                return _zero_like_graph(student_x)
            relations = _Relations(student_rel, teacher_rel, mask, counts, batch, num_graphs)
            return self.reduce(self.per_graph(relations, node_type))

    def per_graph(self, relations: _Relations, node_type: Tensor | None) -> Tensor:
        """(G,) the loss of each graph with K >= 2."""
        raise NotImplementedError


def _cholesky_with_jitter(sigma: Tensor, jitter: float, max_tries: int = 4) -> Tensor:
    """Batched lower Cholesky factor of ``sigma`` (G, K, K).

    Graphs whose factorisation fails are retried with diagonal jitter ``jitter * 10^i`` (i = 1..max_tries);
    any still failing fall back to the diagonal of ``sigma``.
    """
    chol, info = torch.linalg.cholesky_ex(sigma)
    failed = info > 0
    if not bool(failed.any()):
        return chol
    eye = torch.eye(sigma.size(-1), dtype=sigma.dtype, device=sigma.device)
    for attempt in range(1, max_tries + 1):
        retry, retry_info = torch.linalg.cholesky_ex(sigma + (jitter * 10**attempt) * eye)
        chol = torch.where(failed[:, None, None], retry, chol)
        failed = failed & (retry_info > 0)
        if not bool(failed.any()):
            return chol
    diag = torch.diagonal(sigma, dim1=-2, dim2=-1).clamp_min(jitter).sqrt()
    return torch.where(failed[:, None, None], torch.diag_embed(diag), chol)


class MahalanobisEdgeLoss(_EdgeLoss):
    """Mahalanobis distance between student and teacher relation rows (GraphKD, arXiv 2402.11401).

    ``L = mean_g mean_p sqrt(D_p^T S^-1 D_p + eps) - sqrt(eps)`` with ``D_p = E^S[p, :] - E^T[p, :]`` and
    ``S = (1 - lam) Cov(E^T rows) + lam tr(Cov)/K I + eps I`` per graph (teacher only, no gradient,
    unbiased covariance of the K rows as samples). Solved with a batched Cholesky factorisation over all
    graphs at once (padded with identity blocks); graphs with K < 2 are skipped. The ``- sqrt(eps)`` offset
    only makes ``L(s, s) = 0``; it does not change the gradient.
    """

    def __init__(self, shrinkage: float = 0.1, eps: float = 1e-4, reduction: str = "mean"):
        super().__init__(reduction)
        if not 0.0 <= shrinkage <= 1.0:
            raise ValueError(f"shrinkage must be in [0, 1], got {shrinkage}")
        if eps <= 0:
            raise ValueError(f"eps must be positive, got {eps}")
        self.shrinkage = shrinkage
        self.eps = eps

    def extra_repr(self) -> str:
        return f"shrinkage={self.shrinkage}, eps={self.eps}, reduction={self.reduction}"

    @torch.no_grad()
    def teacher_covariance(self, teacher_rel: Tensor, mask: Tensor, counts: Tensor) -> Tensor:
        """Shrunk covariance of the teacher rows (G, Kmax, Kmax), identity on the padded block."""
        fmask = mask.to(teacher_rel.dtype)  # (G, Kmax)
        counts_f = counts.to(teacher_rel.dtype)
        mean = teacher_rel.sum(dim=1) / counts_f[:, None]  # (G, Kmax); padded rows of E^T are 0
        centered = (teacher_rel - mean[:, None, :]) * fmask[:, :, None]  # padded rows and columns stay 0
        cov = centered.transpose(1, 2) @ centered / (counts_f - 1)[:, None, None]  # (G, Kmax, Kmax)
        trace = torch.diagonal(cov, dim1=-2, dim2=-1).sum(dim=1)  # (G,)
        ridge = self.shrinkage * trace / counts_f + self.eps  # (G,)
        diagonal = ridge[:, None] * fmask + (1.0 - fmask)  # (G, Kmax): identity on the padding
        return (1.0 - self.shrinkage) * cov + torch.diag_embed(diagonal)

    def per_graph(self, relations: _Relations, node_type: Tensor | None) -> Tensor:
        sigma = self.teacher_covariance(relations.teacher, relations.mask, relations.counts)
        chol = _cholesky_with_jitter(sigma, self.eps)
        delta = relations.student - relations.teacher  # (G, Kmax, Kmax), zero on the padding; row p is D_p
        solved = torch.cholesky_solve(delta.transpose(1, 2), chol)  # (G, Kmax, Kmax): column p = S^-1 D_p
        sq_dist = (delta.transpose(1, 2) * solved).sum(dim=1)  # (G, Kmax): D_p^T S^-1 D_p
        return _mean_row_distance(sq_dist, relations.mask, relations.counts, self.eps)


def edge_type_matrix(node_type: Tensor) -> Tensor:
    """Edge types from node types (..., K) -> (..., K, K).

    0 text-text, 1 text-nontext, 2 nontext-nontext, 3 when either end is background (node type 2).
    """
    end_p = node_type[..., :, None]
    end_q = node_type[..., None, :]
    background = (end_p == BACKGROUND) | (end_q == BACKGROUND)
    return torch.where(background, torch.full_like(end_p + end_q, 3), end_p + end_q)


class DiagMahalanobisEdgeLoss(_EdgeLoss):
    """Relation-row distance normalised by per-edge-type teacher variance (GraphKD, arXiv 2402.11401).

    ``L = mean_g mean_p sqrt(sum_q D_pq^2 / (v_type(p,q) + eps) + eps) - sqrt(eps)``: the Mahalanobis loss
    with the covariance reduced to one variance per edge type (text-text, text-nontext, nontext-nontext,
    any-background). ``v`` is an EMA (``momentum``) of the variance of the teacher's off-diagonal relation
    entries of each type, updated under ``no_grad`` in training mode only and initialised, per type, from the
    first batch that has at least two such entries. Graphs with K < 2 are skipped.
    """

    running_var: Tensor
    initialized: Tensor
    needs_node_type = "mahalanobis_diag"

    def __init__(self, momentum: float = 0.99, eps: float = 1e-4, reduction: str = "mean"):
        super().__init__(reduction)
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"momentum must be in [0, 1], got {momentum}")
        if eps <= 0:
            raise ValueError(f"eps must be positive, got {eps}")
        self.momentum = momentum
        self.eps = eps
        self.register_buffer("running_var", torch.ones(NUM_EDGE_TYPES))
        self.register_buffer("initialized", torch.zeros(NUM_EDGE_TYPES, dtype=torch.bool))

    def extra_repr(self) -> str:
        return f"momentum={self.momentum}, eps={self.eps}, reduction={self.reduction}"

    @torch.no_grad()
    def update_running_var(self, teacher_rel: Tensor, edge_type: Tensor, pair_mask: Tensor) -> None:
        """EMA update of ``running_var`` from the teacher's valid off-diagonal relation entries."""
        values = teacher_rel[pair_mask]  # (M,)
        types = edge_type[pair_mask]  # (M,)
        one_hot = nn.functional.one_hot(types, NUM_EDGE_TYPES).to(values.dtype)  # (M, 4)
        count = one_hot.sum(dim=0)  # (4,)
        mean = (values @ one_hot) / count.clamp_min(1)
        sq_dev = (values - mean[types]).pow(2)
        var = (sq_dev @ one_hot) / (count - 1).clamp_min(1)
        seen = count >= 2
        blended = torch.where(
            self.initialized, self.momentum * self.running_var + (1 - self.momentum) * var, var
        )
        self.running_var.copy_(torch.where(seen, blended, self.running_var))
        self.initialized.logical_or_(seen)

    def per_graph(self, relations: _Relations, node_type: Tensor | None) -> Tensor:
        mask = relations.mask
        dense_type, all_mask = to_dense_batch(
            node_type.long(), relations.batch, batch_size=relations.num_graphs
        )
        dense_type = dense_type[all_mask.sum(dim=1) >= 2]  # (G, Kmax) for the graphs with K >= 2
        edge_type = edge_type_matrix(dense_type)  # (G, Kmax, Kmax)
        pair_mask = mask[:, :, None] & mask[:, None, :]
        if self.training:
            off_diagonal = ~torch.eye(mask.size(1), dtype=torch.bool, device=mask.device)
            self.update_running_var(relations.teacher, edge_type, pair_mask & off_diagonal)
        variance = self.running_var.float()[edge_type] + self.eps  # (G, Kmax, Kmax)
        delta = relations.student - relations.teacher
        sq_dist = (delta.pow(2) / variance * pair_mask).sum(dim=2)  # (G, Kmax)
        return _mean_row_distance(sq_dist, mask, relations.counts, self.eps)


class MSEEdgeLoss(_EdgeLoss):
    """Dsig's edge loss (arXiv 2109.12862): ``L = mean_g 0.5 * mean_{p,q} (E^S_pq - E^T_pq)^2``.

    The mean runs over the K x K entries of each graph (diagonal included); graphs with K < 2 are skipped.
    """

    def extra_repr(self) -> str:
        return f"reduction={self.reduction}"

    def per_graph(self, relations: _Relations, node_type: Tensor | None) -> Tensor:
        sq_error = (relations.student - relations.teacher).pow(2).sum(dim=(1, 2))  # (G,); padding is zero
        return 0.5 * sq_error / relations.counts.float().pow(2)


EDGE_LOSSES: dict[str, type[_EdgeLoss]] = {
    "mahalanobis": MahalanobisEdgeLoss,
    "mahalanobis_diag": DiagMahalanobisEdgeLoss,
    "mse": MSEEdgeLoss,
}


def build_edge_loss(name: str, **kwargs) -> nn.Module:
    """Instantiate the edge loss registered as ``name`` (``GRAPHKD.EDGE_LOSS.TYPE``) with ``kwargs``."""
    try:
        loss_cls = EDGE_LOSSES[name]
    except KeyError:
        valid = ", ".join(sorted(EDGE_LOSSES))
        raise ValueError(f"unknown edge loss {name!r}; valid: {valid}") from None
    return loss_cls(**kwargs)
