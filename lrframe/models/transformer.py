"""``model=transformer``: a small decoder-only character-level transformer (GPT-style, pre-LN).

For character ids ``x`` of shape ``(batch, T)``, ``T <= block_size``::

    h = token_embedding(x) + position_embedding(0..T-1)
    h = h + attention(LN(h))  with a causal mask      } n_layers times
    h = h + MLP(LN(h)),  MLP = Linear(d, 4d) - GELU - Linear(4d, d)
    logits = Linear(LN(h))                              (batch, T, vocabulary)

Pre-LN (Xiong et al. 2020) is the arrangement that trains with less warmup than the original
post-LN Transformer; the experiments in docs/ measure how much.
"""

from __future__ import annotations

import torch
from torch import nn


class Block(nn.Module):
    def __init__(self, d_model: int, n_heads: int, dropout: float):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.attention = nn.MultiheadAttention(d_model, n_heads, dropout=dropout, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model),
                                 nn.Dropout(dropout))

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.ln1(h)
        h = h + self.attention(x, x, x, attn_mask=mask, need_weights=False, is_causal=True)[0]
        return h + self.mlp(self.ln2(h))


class CharTransformer(nn.Module):
    def __init__(self, *, vocab_size: int, block_size: int, d_model: int, n_layers: int, n_heads: int,
                 dropout: float = 0.0):
        super().__init__()
        self.token = nn.Embedding(vocab_size, d_model)
        self.position = nn.Embedding(block_size, d_model)
        self.blocks = nn.ModuleList(Block(d_model, n_heads, dropout) for _ in range(n_layers))
        self.ln = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)
        self.register_buffer("mask", torch.triu(torch.ones(block_size, block_size, dtype=torch.bool), 1),
                             persistent=False)

    def layer_groups(self) -> list:
        """Input to output, for optimizer.layer_decay (as BEiT's): the embeddings, each block, the final
        norm with the head."""
        return [[self.token, self.position], *self.blocks, [self.ln, self.head]]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = x.shape[1]
        h = self.token(x) + self.position(torch.arange(t, device=x.device))
        mask = self.mask[:t, :t]
        for block in self.blocks:
            h = block(h, mask)
        return self.head(self.ln(h))


def build(node: dict, *, num_classes: int | None, **context) -> CharTransformer:
    """The data's characters are the classes: ``vocab_size = num_classes``."""
    from lrframe.config.errors import ConfigError

    if num_classes is None:
        raise ConfigError("model.name", "transformer", "predicts class labels (characters); use data=text")
    return CharTransformer(vocab_size=num_classes, block_size=node["block_size"], d_model=node["d_model"],
                           n_layers=node["n_layers"], n_heads=node["n_heads"], dropout=node["dropout"])
