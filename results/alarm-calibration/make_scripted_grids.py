"""Second blind batch: grids of real digits and of scripted collapses, each from a 2,000-sample set
the detector judges alone (one evaluation)."""
import json, random
import torch
from modecollapse.config import DataConfig
from modecollapse.data import load_dataset
from modecollapse.images import save_grid
from modecollapse.metrics.samples import reference_for, score_samples
from modecollapse.metrics.detector import assess
torch.set_num_threads(1)
ref = reference_for("mnist")
train = load_dataset(DataConfig(name="mnist", split="train"))
g = torch.Generator().manual_seed(7)
labels = train.labels
sets = []
for i in range(8):
    pick = torch.randperm(len(train), generator=g)[:2000]
    sets.append(("real", train.batch(pick)))
for i in range(3):  # five classes only
    keep = torch.nonzero(labels < 5).flatten()
    pick = keep[torch.randperm(len(keep), generator=g)[:2000]]
    sets.append(("five classes", train.batch(pick)))
for i in range(3):  # 10 prototypes per class
    protos = torch.cat([torch.nonzero(labels == c).flatten()[10 * i: 10 * i + 10] for c in range(10)])
    pick = protos[torch.randint(len(protos), (2000,), generator=g)]
    sets.append(("within-class", train.batch(pick)))
for i in range(2):  # noisy digits
    pick = torch.randperm(len(train), generator=g)[:2000]
    x = train.batch(pick)
    sets.append(("noisy", (x + 0.6 * torch.randn(x.shape, generator=g)).clamp(-1, 1)))
random.seed(11)
order = list(range(len(sets))); random.shuffle(order)
truth = {}
for k, idx in enumerate(order):
    kind, x = sets[idx]
    verdict, found = assess({k2: v for k2, v in score_samples(x, ref).record.items() if not isinstance(v, (str, list))})
    name = f"grid-{100 + k:03d}.png"
    save_grid(x[:64], f"/work/scratch/blind2/{name}")
    truth[name] = {"made": kind, "detector": verdict, "reasons": [r.text for r in found]}
json.dump(truth, open("/work/notes/.blind2-truth.json", "w"), indent=1)
print({n: (t["made"], t["detector"]) for n, t in truth.items()})
