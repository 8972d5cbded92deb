"""Fused grids (``hydra/launcher=fused``): the jobs of a grid that share a model's shapes train as
one vectorized model in one process, each member still its own solo run.

- ``grouping``: which jobs may train together, and why the others may not (torch-free).
- ``vectorize``: one forward for K members (batched matmuls for an MLP, ``torch.func.vmap`` for a
  user's functional ``nn.Module``), refused in one line when a module cannot be vectorized.
- ``member``: one member: its own model leaves, optimizer, schedule, data order, random state,
  TensorBoard writer, ``metrics.json`` and checkpoints, built with the same functions a solo run uses.
- ``loop``: the fused training loop: one forward/backward for every member, per-member updates.
- ``checkpoint``: a member's Lightning-format checkpoint, which ``train.py resume=PATH`` continues alone.

Each member's update is torch's own optimizer over that member's own parameters (one optimizer per
member, built by ``lrframe.optim.build_optimizer``), so its lr, momentum, betas and weight decay are
applied exactly as in the solo run; the forward of K members is one batched computation whose
per-member results equal the solo run's bit for bit on CPU (``baddbmm`` runs the same GEMM per
member as ``F.linear``'s ``addmm``; the tests check it).
"""
