"""The same UNet and training step as src/trainer/model/unet.ts, in PyTorch, timed.

Used by `npm run bench:train` as the anchor (Debian's python3-torch, CPU) and by `npm run bench:gpu`
with "device": "cuda" (eager fp32, TF32 off). Prints one JSON line:
{"torch": version, "threads": n, "device": name, "params": count, "ms": [per-step times]}.
"""
import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def timestep_embedding(t, dim):
    half = dim // 2
    freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t[:, None].float() * freqs[None]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=1)


class ResBlock(nn.Module):
    def __init__(self, cin, cout, tdim, groups, dropout):
        super().__init__()
        self.norm1 = nn.GroupNorm(min(groups, cin), cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.temb = nn.Linear(tdim, cout)
        self.norm2 = nn.GroupNorm(min(groups, cout), cout)
        self.drop = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.temb(F.silu(temb))[:, :, None, None]
        h = self.conv2(self.drop(F.silu(self.norm2(h))))
        return self.skip(x) + h


class Attention(nn.Module):
    def __init__(self, ch, groups):
        super().__init__()
        self.norm = nn.GroupNorm(min(groups, ch), ch)
        self.qkv = nn.Linear(ch, 3 * ch)
        self.out = nn.Linear(ch, ch)

    def forward(self, x):
        b, c, h, w = x.shape
        n = self.norm(x).reshape(b, c, h * w).transpose(1, 2)
        q, k, v = self.qkv(n).chunk(3, dim=2)
        a = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(c), dim=2)
        o = self.out(a @ v).transpose(1, 2).reshape(b, c, h, w)
        return x + o


class UNet(nn.Module):
    def __init__(self, size, channels, base, mults, res_blocks, attn_res, groups, dropout):
        super().__init__()
        tdim = base * 4
        self.base = base
        self.fc1 = nn.Linear(base, tdim)
        self.fc2 = nn.Linear(tdim, tdim)
        self.inp = nn.Conv2d(channels, base, 3, padding=1)
        chs = [base * m for m in mults]
        levels = len(mults)
        self.down = nn.ModuleList()
        skips = [base]
        ch = base
        for l in range(levels):
            res = size >> l
            for _ in range(res_blocks):
                self.down.append(ResBlock(ch, chs[l], tdim, groups, dropout))
                ch = chs[l]
                if res in attn_res:
                    self.down.append(Attention(ch, groups))
                skips.append(ch)
            if l < levels - 1:
                self.down.append(nn.Conv2d(ch, ch, 3, stride=2, padding=1))
                skips.append(ch)
        self.mid = nn.ModuleList([ResBlock(ch, ch, tdim, groups, dropout)])
        if (size >> (levels - 1)) in attn_res:
            self.mid.append(Attention(ch, groups))
        self.mid.append(ResBlock(ch, ch, tdim, groups, dropout))
        self.up = nn.ModuleList()
        for l in reversed(range(levels)):
            res = size >> l
            for _ in range(res_blocks + 1):
                self.up.append(ResBlock(ch + skips.pop(), chs[l], tdim, groups, dropout))
                ch = chs[l]
                if res in attn_res:
                    self.up.append(Attention(ch, groups))
            if l > 0:
                self.up.append(nn.Upsample(scale_factor=2, mode="nearest"))
                self.up.append(nn.Conv2d(ch, ch, 3, padding=1))
        self.out_norm = nn.GroupNorm(min(groups, ch), ch)
        self.out = nn.Conv2d(ch, channels, 3, padding=1)

    def forward(self, x, t):
        temb = self.fc2(F.silu(self.fc1(timestep_embedding(t, self.base))))
        h = self.inp(x)
        hs = [h]
        for m in self.down:
            if isinstance(m, ResBlock):
                h = m(h, temb)
                hs.append(h)
            elif isinstance(m, Attention):
                h = m(h)
                hs[-1] = h
            else:
                h = m(h)
                hs.append(h)
        for m in self.mid:
            h = m(h, temb) if isinstance(m, ResBlock) else m(h)
        for m in self.up:
            if isinstance(m, ResBlock):
                h = m(torch.cat([h, hs.pop()], dim=1), temb)
            else:
                h = m(h)
        return self.out(F.silu(self.out_norm(h)))


def main():
    spec = json.loads(sys.argv[1])
    torch.set_num_threads(spec.get("threads", 2))
    device = torch.device(spec.get("device", "cpu"))
    if device.type == "cuda":
        if not torch.cuda.is_available():
            sys.exit(f"CUDA not available to PyTorch {torch.__version__}")
        # fp32 as TF.js computes it: no TF32 tensor-core shortcuts.
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    m = UNet(spec["size"], spec["channels"], spec["base"], spec["mults"], spec["resBlocks"], spec["attn"], spec["groups"], 0.0).to(device)
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    b = spec["batch"]
    x = torch.randn(b, spec["channels"], spec["size"], spec["size"], device=device)
    eps = torch.randn_like(x)
    t = torch.randint(0, 1000, (b,), device=device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    times = []
    for i in range(spec["warmup"] + spec["steps"]):
        sync()
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = F.mse_loss(m(x, t), eps)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
        sync()
        if i >= spec["warmup"]:
            times.append((time.perf_counter() - t0) * 1000)
    params = sum(p.numel() for p in m.parameters())
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "device": name, "params": params, "ms": times}))


if __name__ == "__main__":
    main()
