"""The thesis U-Net (same topology as src/ml/models/topology.ts) trained with PyTorch on the CPU,
for bench:train to print beside blu-pipe's backends. Prints one JSON line:
{"backend": "pytorch", "rows": [{"model": "unet", "trainMs": ..., "fwdMs": ...}]}.
Usage: python3 bench/torch-unet.py SIZE WIDTH LEVELS BATCH STEPS WARMUP
"""
import json
import statistics
import sys
import time

import torch
from torch import nn


def block(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding="same"), nn.ReLU(), nn.Conv2d(cout, cout, 3, padding="same"), nn.ReLU())


class Unet(nn.Module):
    def __init__(self, width, levels):
        super().__init__()
        filters = [width * 2**n for n in range(levels)]
        self.down = nn.ModuleList([block(1, filters[0])] + [block(filters[n - 1], filters[n]) for n in range(1, levels)])
        self.up = nn.ModuleList([nn.Conv2d(filters[n + 1], filters[n], 2, padding="same") for n in range(levels - 1)])
        self.merge = nn.ModuleList([block(2 * filters[n], filters[n]) for n in range(levels - 1)])
        self.head = nn.Conv2d(filters[0], 1, 1)

    def forward(self, x):
        skips = []
        for n, down in enumerate(self.down):
            x = down(x if n == 0 else nn.functional.max_pool2d(x, 2))
            skips.append(x)
        for n in reversed(range(len(self.up))):
            up = torch.relu(self.up[n](nn.functional.interpolate(x, scale_factor=2, mode="nearest")))
            x = self.merge[n](torch.cat([skips[n], up], dim=1))
        return torch.sigmoid(self.head(x))


def timed(step, steps, warmup):
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main():
    size, width, levels, batch, steps, warmup = (int(a) for a in sys.argv[1:7])
    torch.manual_seed(1)
    model = Unet(width, levels)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    x = torch.rand(batch, 1, size, size)
    y = (torch.rand(batch, 1, size, size) > 0.5).float()
    loss_fn = nn.BCELoss()

    def train_step():
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()

    def forward():
        with torch.no_grad():
            model(x)

    row = {"model": "unet", "fwdMs": timed(forward, steps, warmup), "trainMs": timed(train_step, steps, warmup), "leak": 0}
    print(json.dumps({"backend": "pytorch", "rows": [row], "peakRssMb": 0, "threads": torch.get_num_threads(), "version": torch.__version__}))


if __name__ == "__main__":
    main()
