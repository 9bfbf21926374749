"""The neural member of the ensemble: text attention joined with tabular inputs.

Every text column is read through one shared token embedding and pooled by its
own attention layer (a learnt query scores each token). A "wide" path adds one
learnt weight per token, averaged over the text, straight to the logit, so word
effects that a linear model would find are not left to the deep path alone.
Category embeddings and scaled numeric features join the pooled text in an MLP.

Layer sizes follow the inputs (see :func:`derive_sizes`) unless set in params.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Callable, Optional

import numpy as np
import torch
from torch import nn

from within import ConfigError
from within_adscore.encoding import NetworkInputs
from within_adscore.objective import Targets

logger = logging.getLogger(__name__)


def torch_device(preferred: str = "auto") -> str:
    """``cuda`` when asked for or available (``auto``), else ``cpu``."""
    if preferred == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if preferred == "cuda" and not torch.cuda.is_available():
        raise ConfigError("model.params.network.device", '"cuda" was asked for but '
                          "torch sees no CUDA device in this process; use \"auto\" "
                          'or "cpu"')
    return preferred


def derive_sizes(vocabulary_size: int, cardinalities: list[int], dense_width: int,
                 text_columns: int, embedding_dim: Optional[int],
                 hidden_units: Optional[int]) -> dict:
    """Layer sizes from the inputs.

    - token embedding: about 1.6 x vocabulary^0.25 rounded to a multiple of 8,
      between 16 and 128 (a 10k-token vocabulary gets 16; a million tokens, 48);
    - each category embedding: 1.6 x cardinality^0.56, at most 32;
    - hidden layer: the power of two nearest twice the joined input width,
      between 32 and 512.
    """
    if embedding_dim is None:
        embedding_dim = int(min(128, max(16, 8 * round(1.6 * vocabulary_size ** 0.25 / 8))))
    category_dims = [int(min(32, max(2, round(1.6 * c ** 0.56)))) for c in cardinalities]
    joined = text_columns * embedding_dim + sum(category_dims) + dense_width
    if hidden_units is None:
        hidden_units = int(min(512, max(32, 2 ** round(math.log2(max(2 * joined, 1))))))
    return {"vocabulary_size": vocabulary_size, "embedding_dim": embedding_dim,
            "category_cardinalities": list(cardinalities), "category_dims": category_dims,
            "dense_width": dense_width, "text_columns": text_columns,
            "hidden_units": hidden_units}


class AttentionPool(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.project = nn.Linear(dim, dim)
        self.query = nn.Linear(dim, 1, bias=False)

    def forward(self, embedded: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        scores = self.query(torch.tanh(self.project(embedded))).squeeze(-1)
        scores = scores.masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        return (weights.unsqueeze(-1) * embedded).sum(dim=1)


class AdScoreNetwork(nn.Module):
    def __init__(self, sizes: dict, dropout: float, base_logit: float):
        super().__init__()
        self.sizes = sizes
        dim = sizes["embedding_dim"]
        self.tokens = nn.Embedding(sizes["vocabulary_size"], dim, padding_idx=0)
        self.wide = nn.Embedding(sizes["vocabulary_size"], 1, padding_idx=0)
        nn.init.zeros_(self.wide.weight)
        self.pools = nn.ModuleList(AttentionPool(dim) for _ in range(sizes["text_columns"]))
        self.categories = nn.ModuleList(
            nn.Embedding(card, d) for card, d in
            zip(sizes["category_cardinalities"], sizes["category_dims"]))
        joined = (sizes["text_columns"] * dim + sum(sizes["category_dims"])
                  + sizes["dense_width"])
        hidden = sizes["hidden_units"]
        self.mlp = nn.Sequential(
            nn.Linear(joined, hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, hidden // 2), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden // 2, 1))
        self.bias = nn.Parameter(torch.tensor([base_logit], dtype=torch.float32))

    def forward(self, tokens: torch.Tensor, categories: torch.Tensor,
                dense: torch.Tensor) -> torch.Tensor:
        parts = []
        wide = torch.zeros(len(dense), device=dense.device)
        for column, pool in enumerate(self.pools):
            ids = tokens[:, column]
            mask = ids != 0
            parts.append(pool(self.tokens(ids), mask))
            counts = mask.sum(dim=1).clamp(min=1)
            wide = wide + self.wide(ids).squeeze(-1).sum(dim=1) / counts
        for column, embedding in enumerate(self.categories):
            parts.append(embedding(categories[:, column]))
        parts.append(dense)
        return self.mlp(torch.cat(parts, dim=1)).squeeze(-1) + wide + self.bias


def _loss(margin, successes, trials, groups, n_groups, within_group_weight):
    """Torch twin of ``objective.total_loss`` for a batch of whole groups."""
    nll = -(successes * nn.functional.logsigmoid(margin)
            + (trials - successes) * nn.functional.logsigmoid(-margin)).sum()
    loss = nll / trials.sum()
    if within_group_weight and groups is not None and successes.sum() > 0:
        logits = margin + torch.log(trials)
        top = torch.full((n_groups,), float("-inf"), device=margin.device)
        top = top.scatter_reduce(0, groups, logits.detach(), reduce="amax")
        shifted = torch.exp(logits - top[groups])
        total = torch.zeros(n_groups, device=margin.device).index_add(0, groups, shifted)
        log_share = logits - top[groups] - torch.log(total[groups])
        loss = loss + within_group_weight * (-(successes * log_share).sum()
                                             / successes.sum())
    return loss


def _batches(groups: Optional[np.ndarray], rows: int, batch_groups: int,
             rng: np.random.Generator) -> list[np.ndarray]:
    """Row indices per batch; a group is never split across batches."""
    if groups is None:
        order = rng.permutation(rows)
        size = batch_groups * 4
        return [order[i:i + size] for i in range(0, rows, size)]
    order = np.argsort(groups, kind="stable")
    bounds = np.flatnonzero(np.diff(groups[order])) + 1
    members = np.split(order, bounds)
    shuffled = rng.permutation(len(members))
    return [np.concatenate([members[g] for g in shuffled[i:i + batch_groups]])
            for i in range(0, len(members), batch_groups)]


def _tensors(inputs: NetworkInputs, device: str):
    # torch.tensor copies: arrays arriving from Ray's object store are read-only.
    return (torch.tensor(inputs.tokens, device=device),
            torch.tensor(inputs.categories, device=device),
            torch.tensor(inputs.dense, device=device))


def train_network(train: NetworkInputs, train_targets: Targets,
                  validation: NetworkInputs, validation_targets: Targets,
                  sizes: dict, params, base_logit: float, seed: int,
                  device: str, threads: Optional[int] = None,
                  report_step: Optional[Callable[[dict], None]] = None) -> dict:
    """Fit the network; keep the epoch with the lowest validation loss.

    Returns the weights as NumPy arrays (written with safetensors by the caller)
    and the training history.
    """
    started = time.perf_counter()
    # Resolved here, where the work runs: the driver may see GPUs that Ray
    # declares but this process's torch cannot use.
    device = torch_device(device)
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = AdScoreNetwork(sizes, params.dropout, base_logit).to(device)
    optimiser = torch.optim.AdamW(model.parameters(), lr=params.learning_rate,
                                  weight_decay=params.weight_decay)
    weight = params.within_group_weight
    x_train = _tensors(train, device)
    x_valid = _tensors(validation, device)

    def targets_on(t: Targets):
        groups = None if t.groups is None else torch.tensor(t.groups, device=device)
        return (torch.tensor(t.successes, dtype=torch.float32, device=device),
                torch.tensor(t.trials, dtype=torch.float32, device=device), groups)

    y_train = targets_on(train_targets)
    y_valid = targets_on(validation_targets)
    n_valid_groups = 0 if validation_targets.groups is None else int(
        validation_targets.groups.max()) + 1

    best = (math.inf, None, 0)
    history = []
    stale = 0
    for epoch in range(1, params.epochs + 1):
        model.train()
        for index in _batches(train_targets.groups, len(train), params.batch_groups, rng):
            rows = torch.as_tensor(index, device=device)
            groups = None
            n_groups = 0
            if y_train[2] is not None:
                # Renumber the batch's groups 0..k-1 for the scatter operations.
                groups_np = np.unique(train_targets.groups[index], return_inverse=True)[1]
                groups = torch.as_tensor(groups_np, device=device)
                n_groups = int(groups_np.max()) + 1
            margin = model(*(x[rows] for x in x_train))
            loss = _loss(margin, y_train[0][rows], y_train[1][rows], groups, n_groups,
                         weight)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        model.eval()
        with torch.no_grad():
            margin = model(*x_valid)
            valid_loss = float(_loss(margin, *y_valid, n_valid_groups, weight))
        history.append({"epoch": epoch, "validation_loss": valid_loss})
        if report_step is not None:
            report_step({"member": "network", "seed": seed, "step": epoch,
                         "validation_loss": valid_loss})
        logger.info("network epoch %d/%d: validation loss %.5f", epoch, params.epochs,
                    valid_loss)
        if valid_loss < best[0] - 1e-6:
            state = {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}
            best = (valid_loss, state, epoch)
            stale = 0
        else:
            stale += 1
            if stale >= params.patience:
                break
    seconds = time.perf_counter() - started
    logger.info("network member: best epoch %d of %d in %.1f s on %s", best[2], epoch,
                seconds, device)
    return {"state": best[1], "epoch": best[2], "history": history, "seconds": seconds,
            "device": device}


class NetworkMember:
    """Fitted networks ready to score encoded inputs; their logits are averaged."""

    def __init__(self, sizes: dict, states: list[dict[str, np.ndarray]],
                 device: str = "cpu", batch_rows: int = 8192):
        self.models = []
        for state in states:
            model = AdScoreNetwork(sizes, dropout=0.0, base_logit=0.0)
            model.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
            self.models.append(model.to(device).eval())
        self.device = device
        self.batch_rows = batch_rows

    def state(self) -> dict[str, np.ndarray]:
        """All weights in one flat map, keys prefixed by the network's index."""
        return {f"{i}.{key}": value.detach().cpu().numpy()
                for i, model in enumerate(self.models)
                for key, value in model.state_dict().items()}

    @classmethod
    def from_state(cls, sizes: dict, flat: dict[str, np.ndarray]) -> "NetworkMember":
        states: dict[int, dict] = {}
        for key, value in flat.items():
            index, name = key.split(".", 1)
            states.setdefault(int(index), {})[name] = value
        return cls(sizes, [states[i] for i in sorted(states)])

    def margin(self, inputs: NetworkInputs) -> np.ndarray:
        out = []
        with torch.inference_mode():
            for start in range(0, len(inputs), self.batch_rows):
                chunk = inputs.take(np.arange(start, min(start + self.batch_rows,
                                                         len(inputs))))
                tensors = _tensors(chunk, self.device)
                margins = [model(*tensors).float() for model in self.models]
                out.append(torch.stack(margins).mean(dim=0).cpu().numpy())
        return np.concatenate(out) if out else np.zeros(0)
