"""The five sections of a run config, each key with its default and meaning."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from modecollapse.data.settings import DataConfig

__all__ = ["DataConfig", "DetectorConfig", "ModelConfig", "ObjectiveConfig", "TrainConfig"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelConfig(_Section):
    family: Literal["dcgan", "mlp", "cyclegan"] = "dcgan"
    """dcgan (images), mlp (2-D points), cyclegan (unpaired translation pairs)."""
    latent_dim: int = Field(default=100, ge=1)
    g_width: int = Field(default=64, ge=1)
    """Generator width: ngf for DCGAN, hidden units for the MLP."""
    d_width: int = Field(default=64, ge=1)
    """Discriminator width: ndf for DCGAN, hidden units for the MLP."""
    latent_distribution: Literal["normal", "uniform"] = "normal"
    """z ~ N(0, I), or uniform on [-1, 1] (DCGAN-tensorflow and PacGAN's code)."""
    mlp_hidden_layers: int = Field(default=3, ge=1)
    """MLP hidden layers (G's, and D's unless mlp_d_hidden_layers is set)."""
    mlp_d_hidden_layers: int | None = Field(default=None, ge=1)
    mlp_g_batch_norm: bool = False
    """BatchNorm after each hidden layer of the MLP generator (PacGAN's 2-D G)."""
    mlp_d_maxout_pieces: int = Field(default=1, ge=1)
    """> 1: the MLP discriminator's hidden layers are maxout with this many pieces (PacGAN's
    2-D D: 3 layers of 200 units x 5 pieces); 1: LeakyReLU(0.2)."""
    g_activation: Literal["relu", "identity"] = "relu"
    """DCGAN generator hidden activation. 'identity' reproduces code that wrote
    nn.LeakyReLU(True): the first argument is the negative slope, so the slope is 1.0."""
    dcgan_layout: Literal["classic", "pacgan", "metz"] = "classic"
    """DCGAN layout: classic (PyTorch example, 4x4 kernels, G from 1x1 by transposed convs),
    pacgan (DCGAN-tensorflow as PacGAN's Stacked MNIST code: 5x5 kernels, linear first G layer,
    four stride-2 stages, widths up to 8 x width) or metz (the unrolled-GAN paper's small DCGAN
    for its D-capacity study: 3x3 kernels, three stages; d_width 2 / 4 = D at 1/4 / 1/2 of G at
    g_width 8); see models/dcgan.py."""
    d_norm: Literal["batch", "none"] = "batch"
    """Normalization inside the DCGAN discriminator (the classic DCGAN uses batch)."""
    spectral_norm: bool = False
    """Spectral normalization on every discriminator weight (Miyato et al. 2018)."""
    minibatch_stddev: bool = False
    """Append the minibatch standard deviation as a feature before D's head (Karras 2018)."""
    minibatch_stddev_group: int = Field(default=4, ge=2)
    minibatch_discrimination: bool = False
    """Salimans et al. 2016 minibatch discrimination layer before D's head."""
    minibatch_discrimination_kernels: int = Field(default=100, ge=1)
    minibatch_discrimination_kernel_dim: int = Field(default=5, ge=1)
    conditioning: Literal["none", "guided", "embedding", "acgan"] = "none"
    """DCGAN class conditioning: none; guided (class-partitioned latent + guide classifier, see
    models/latent.py, models/guided.py); embedding (conditional GAN); acgan (auxiliary-classifier GAN)."""
    guided_subspace_dim: int = Field(default=10, ge=1)
    """guided: dims of each class's latent block (z has num_classes x this many dims)."""
    guided_other_blocks: Literal["zero", "noise"] = "zero"
    """guided: what fills the blocks of the classes not drawn."""
    guided_variant: Literal["corrected", "as_published"] = "corrected"
    """guided: as_published feeds the integer label into the latent and computes the per-class
    variance over a singleton axis (always zero), as the public code does."""
    resnet_blocks: int = Field(default=9, ge=0)
    """CycleGAN generator: residual blocks (the reference uses 9 at 256 px, 6 at 128 px)."""
    patch_layers: int = Field(default=3, ge=1)
    """CycleGAN PatchGAN depth: 3 = the 70x70 PatchGAN; 2 suits 28-32 pixel images."""
    cyclegan_generator: Literal["resnet", "unet"] = "resnet"
    """CycleGAN: the reference ResNet generator, or pix2pix's U-Net (skips between encoder and
    decoder levels, a 1x1 bottleneck; Isola et al. 2017)."""
    g_downsamplings: int = Field(default=2, ge=1, le=4)
    """CycleGAN ResNet generator: stride-2 halvings before the residual blocks (2 in the reference;
    3 = a deeper encoder with a larger receptive field). Image sides must divide by 2**this."""
    cyclegan_discriminator: Literal["patch", "image", "dilated"] = "patch"
    """CycleGAN D: the reference PatchGAN; an image-level D (its features averaged over the image
    into one score, LynnHo/CycleGAN-Tensorflow-2 #8); or a dilated context D (GANimorph,
    Gokaslan et al. 2018) for shape changes."""
    coord_channels: Literal["none", "g", "d", "gd"] = "none"
    """CoordConv (Liu et al. 2018): two coordinate channels at the input of G, D or both (as the
    CoordConv GAN code adds them), for CNNs' weakness at spatial transforms."""
    pack: int = Field(default=1, ge=1)
    """PacGAN: D judges `pack` samples at once, concatenated along channels (Lin et al. 2018)."""
    g_ema: bool = False
    """Keep an exponential moving average of G's weights (buffers copied, as StyleGAN2-ADA does);
    evaluation, sample grids, diagnose and export use the average (Yazici et al. 2019). CycleGAN:
    both generators are averaged."""
    g_ema_decay: float = Field(default=0.999, gt=0, lt=1)
    """The average's decay per G update (0.999: ProGAN's G_smoothing; a half-life of ~690 steps)."""


class ObjectiveConfig(_Section):
    loss: Literal["bce", "lsgan", "hinge", "wgan-gp", "rpgan"] = "bce"
    """bce = non-saturating GAN loss; lsgan = least squares; hinge; wgan-gp (Gulrajani 2017);
    rpgan = relativistic pairing, softplus(D(fake) - D(real)) over paired inputs (R3GAN's loss
    with r1_gamma = r2_gamma, Huang et al. 2024). A CycleGAN starts from lsgan (its reference)."""
    gp_weight: float = Field(default=10.0, ge=0)
    """Gradient-penalty weight for wgan-gp."""
    r1_gamma: float = Field(default=0.0, ge=0)
    """R1 penalty gamma/2 * E|grad D(x_real)|^2 (Mescheder et al. 2018); 0 = off."""
    r2_gamma: float = Field(default=0.0, ge=0)
    """R2 penalty gamma/2 * E|grad D(x_fake)|^2 on generated inputs (R3GAN uses R1 + R2); 0 = off."""
    label_flip_fraction: float = Field(default=0.0, ge=0, le=1)
    """Fraction of D's real and fake labels flipped each step."""
    label_flip_rounding: Literal["bernoulli", "floor"] = "bernoulli"
    """bernoulli: each label flips with probability p; floor: exactly int(batch*p) per batch."""
    label_smoothing: float = Field(default=0.0, ge=0, lt=0.5)
    """One-sided label smoothing: real target becomes 1 - label_smoothing."""
    instance_noise_std: float = Field(default=0.0, ge=0)
    """Gaussian noise added to every D input (real and fake)."""
    instance_noise_anneal_steps: int = Field(default=0, ge=0)
    """Anneal the noise std linearly to zero over this many steps; 0 = constant."""
    unrolled_steps: int = Field(default=0, ge=0)
    """Unrolled GAN: G is updated against D after k look-ahead D steps (Metz et al. 2017)."""
    mode_seeking_weight: float = Field(default=0.0, ge=0)
    """Mode-seeking regularizer weight (Mao et al. 2019); 0 = off."""
    history_buffer_size: int = Field(default=0, ge=0)
    """Keep this many past fakes and show D a mix of old and new ones; 0 = off (a CycleGAN starts
    from 50, its reference's pool)."""
    history_buffer_fraction: float = Field(default=0.5, ge=0, le=1)
    """Probability that a fake shown to D is swapped for one from the history buffer."""
    guide_classifier: str = "guide-mnist"
    """guided: the shipped guide network (never the evaluation classifier)."""
    guide_class_weight: float = Field(default=0.1, ge=0)
    """guided: lambda_cls, weight of the guide's cross-entropy on G(z_k) vs k."""
    guide_variance_weight: float = Field(default=0.1, ge=0)
    """guided: lambda_var, weight of the per-class feature-statistics distance to real data."""
    guide_start_step: int = Field(default=0, ge=0)
    """guided: G step at which the guide terms switch on (before it: a plain GAN on the block latent)."""
    guide_warmup_steps: int = Field(default=0, ge=0)
    """guided: then ramp both guide weights linearly from 0 over this many steps (0 = at once)."""
    guide_match_means: bool = False
    """guided: also match per-class feature means, not only variances."""
    guide_balance: bool = True
    """guided: rescale each guide term every step so its gradient on G's output layer is its
    weight times the adversarial term's (an adaptive weight, as in Esser et al. 2021), so the
    weights say how hard the guide pulls relative to D; off = fixed weights, whose raw gradient
    is 20-100x the adversarial one with our guide (G then never learns digits)."""
    acgan_class_weight: float = Field(default=1.0, ge=0)
    """acgan: weight of the auxiliary classification loss for D and G."""
    cycle_weight: float = Field(default=10.0, ge=0)
    """CycleGAN: weight of the L1 cycle-consistency loss (lambda = 10 in Zhu et al.)."""
    identity_weight: float = Field(default=0.5, ge=0)
    """CycleGAN: identity loss weight as a multiple of cycle_weight (0.5 in the reference; 0 = off)."""
    semantic_weight: float = Field(default=0.0, ge=0)
    """CycleGAN on spatial-*: CyCADA's semantic consistency (Hoffman et al. 2018, Eq. 4), weight of
    CE(f(G_AB(a)), argmax f(a)) + CE(f(G_BA(b)), argmax f(b)) with f a fixed pretrained digit
    classifier (the shipped guide-mnist: neither the evaluation classifier nor the grader) read
    through each layout's digit slots; 0 = off (1 in CyCADA)."""
    geometry_weight: float = Field(default=0.0, ge=0)
    """CycleGAN: GcGAN's geometry consistency under a vertical flip (Fu et al. 2019), with a second
    D per domain for the flipped images; its L1 weight (20 = 10 x 2 in the reference); 0 = off."""
    nce_weight: float = Field(default=0.0, ge=0)
    """CycleGAN: CUT's PatchNCE (Park et al. 2020) beside the cycle, NCE(G_AB; a) + NCE(G_BA; b) in
    each G's own encoder features with a projection MLP per layer (256 patches, temperature 0.07);
    its weight (1 in CUT); 0 = off. Needs the ResNet generator."""


class TrainConfig(_Section):
    epochs: int = Field(default=5, ge=1)
    max_steps: int | None = Field(default=None, ge=1)
    """Stop after this many generator steps, even inside an epoch."""
    batch_size: int = Field(default=64, ge=1)
    """Images per step (at least 2 for dcgan/mlp, whose BatchNorm needs a batch; CycleGAN's
    reference uses 1)."""
    lr_g: float = Field(default=2e-4, gt=0)
    lr_d: float = Field(default=2e-4, gt=0)
    beta1: float = Field(default=0.5, ge=0, lt=1)
    beta2: float = Field(default=0.999, ge=0, lt=1)
    d_steps: int = Field(default=1, ge=1)
    """Discriminator updates per step (n_critic; WGAN-GP uses 5)."""
    g_steps: int = Field(default=1, ge=1)
    """Generator updates per step, on the same z (PacGAN's Stacked MNIST code: 2, after
    DCGAN-tensorflow's "run g_optim twice to make sure that d_loss does not go to zero")."""
    seed: int = 0
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    """auto: bf16 autocast for the convolutional families (DCGAN, CycleGAN) where the hardware
    runs bf16 natively (x86 CPUs with AVX512-BF16 or AMX, ARM CPUs with BF16, CUDA >= 8.0), else
    fp32 (2-D MLP GANs too); "bf16" forces autocast for any family; see speed.py. Generators are
    sampled for evaluation in fp32 whatever this says; the evaluation classifier grades as
    `grading_precision` says (summary.json's machine.grading_precision)."""
    grading_precision: Literal["auto", "fp32", "bf16"] = "auto"
    """How the evaluation classifier grades this run's samples: auto = the machine's (bf16 where the
    CPU runs it natively, else fp32); "fp32" pins one scorer on every machine, for a study whose
    seeds may run on more than one kind of CPU (bf16 where not native is 10-150x slower)."""
    memory_format: Literal["auto", "contiguous", "channels_last"] = "auto"
    """auto: channels_last where it measured faster (DCGAN), else contiguous."""
    num_threads: int | None = Field(default=None, ge=1)
    """CPU threads for torch; None leaves torch's default (all cores; sweeps use 1 per run)."""
    log_every: int = Field(default=25, ge=1)
    """Flush per-step metrics (and check for NaN) every this many steps."""
    sample_every: int = Field(default=500, ge=1)
    checkpoint_every: int = Field(default=500, ge=1)
    keep_checkpoints: int = Field(default=2, ge=1)
    lr_decay_epochs: int = Field(default=0, ge=0)
    """Keep the learning rates for epochs - lr_decay_epochs epochs, then decay them linearly
    to zero (the CycleGAN schedule; 0 = constant)."""
    eval_every_epochs: int = Field(default=1, ge=1)
    """Score the generator every this many epochs (unless eval_every_steps is set)."""
    eval_every_steps: int | None = Field(default=None, ge=1)
    """Score the generator every this many steps instead: a clock that does not depend on the
    dataset's size (an epoch of mnist-5k is only 78 steps at batch 64)."""
    on_collapse: Literal["continue", "stop"] = "continue"
    """What a confirmed collapse does: nothing ("continue"), or end the run there ("stop").
    Either way the checkpoint of the last healthy evaluation is kept apart from the rotation
    (checkpoints/last-healthy) and named in summary.json."""
    eval_samples: int = Field(default=2000, ge=100)
    """Generated images scored at each evaluation (image datasets)."""
    full_eval_samples: int | None = Field(default=None, ge=100)
    """Images scored at the steps of `full_eval_steps` instead (Stacked MNIST's 26,000 at a declared
    point, cheaper evaluations elsewhere); each record names its sample count."""
    full_eval_steps: list[int] = Field(default_factory=list)
    """The steps evaluated with `full_eval_samples` (they must be evaluation steps)."""
    num_sample_images: int = Field(default=64, ge=1)
    tensorboard: bool = True
    progress: bool = True

    def total_steps(self, steps_per_epoch: int) -> int:
        """The steps a run takes: `epochs` epochs of `steps_per_epoch`, or `max_steps` if fewer."""
        return min(self.epochs * steps_per_epoch, self.max_steps or self.epochs * steps_per_epoch)


class DetectorConfig(_Section):
    """Thresholds of the collapse detector; see metrics/detector.py for the rule."""

    collapsed_modes_fraction: float = Field(default=0.1, ge=0, le=1)
    collapsed_diversity_ratio: float = Field(default=0.3, ge=0)
    collapsed_near_duplicate_rate: float = Field(default=0.5, ge=0, le=1)
    partial_modes_fraction: float = Field(default=0.95, ge=0, le=1)
    modes_beyond_confusion: bool = True
    """Images: also judge the modes beyond the classifier's confusions (metrics/classes.py); false
    judges the modes as read (a generator whose samples the classifier misreads more often than
    real test images may otherwise read as missing a class)."""
    partial_kl_uniform: float = Field(default=0.1, ge=0)
    partial_diversity_ratio: float = Field(default=0.75, ge=0)
    partial_near_duplicate_rate: float = Field(default=0.2, ge=0, le=1)
    collapsed_recognizable_share: float = Field(default=0.05, ge=0, le=1)
    """Images: collapsed below this share of recognizable samples (real data: 0.99; pixel noise
    and blobs: 0; a DCGAN-28 after 1,560 steps on mnist-5k: ~0.5)."""
    partial_recognizable_share: float = Field(default=0.2, ge=0, le=1)
    collapsed_precision: float = Field(default=0.05, ge=0, le=1)
    """Images: collapsed, as samples that do not look like the data at all, when precision and
    density are both below this (real MNIST: ~0.75 and ~1; Fashion-MNIST judged as MNIST: 0.021
    and 0.008); their class counts are then not read as modes."""
    partial_class_accuracy: float = Field(default=0.5, ge=0, le=1)
    """Class-conditional generators: partial collapse when a smaller share of the samples drawn
    for a class are read as that class (a G that ignores its label: 1/K; real: the classifier's
    accuracy, 0.99)."""
    partial_copy_rate: float = Field(default=0.2, ge=0, le=1)
    """Partial collapse at this share of samples that copy a real image (real data: 0.01)."""
    collapsed_translation_score: float = Field(default=0.1, ge=-1, le=1)
    """Translators: collapsed below this chance-corrected score, as a translator that ignores its
    input (it scores ~0; the pilot's reference runs scored -0.07 to 0.02 at every evaluation,
    results/translation/pilot)."""
    partial_translation_score: float = Field(default=0.5, ge=-1, le=1)
    """Translators: partial below this chance-corrected share of right translations (the input's
    digit in B's slot at B's size; metrics/translation.py). A translator that ignores its input
    scores ~0, the perfect one ~1."""
    partial_colour_diversity: float = Field(default=0.5, ge=0)
    """RGB targets: partial below this ratio of the translations' colour spread to real B's (one
    palette for every output: ~0)."""
    partial_high_quality: float = Field(default=0.9, ge=0, le=1)
    """2-D mixtures: partial collapse below this share of samples within 3 std of a mode."""
    relative_modes_drop: float = Field(default=1.0, ge=0)
    """Relative onset: modes below the run's best by at least this many (or the fraction below)."""
    relative_modes_fraction: float = Field(default=0.1, ge=0, le=1)
    relative_share_drop: float = Field(default=0.1, ge=0, le=1)
    """Relative onset: recognizable share, diversity ratio, recall or high-quality share below
    the run's best by at least this (recall's best: see recall_precision_window)."""
    recall_precision_window: float = Field(default=0.1, ge=0, le=1)
    """Relative onset: recall's best counts only from evaluations whose precision was at most
    this much below the current one (blurry early samples inflate k-NN recall); 1 = the plain
    running best."""
    patience: int = Field(default=2, ge=1)
    """Consecutive non-healthy evaluations that confirm a collapse."""
    start_grace_evaluations: int = Field(default=2, ge=0)
    """A run never healthy raises the alarm ("collapsed from the start") when it is judged
    collapsed at `patience` evaluations in a row after its first this many (its start's grace)."""
