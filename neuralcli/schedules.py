"""Learning-rate schedules. A schedule maps the epoch (0-based) to a learning rate; the
plateau schedule also watches the monitored loss at the end of each epoch."""
import math


class Schedule:
    name = ""
    state_fields = ()       # what changes as training goes; the rest comes from the settings

    def __init__(self, base_lr, epochs):
        self.base_lr = float(base_lr)
        self.epochs = max(1, int(epochs))

    def lr(self, epoch):
        return self.base_lr

    def observe(self, epoch, monitored):
        """Called after each epoch with the monitored loss; only plateau listens."""

    def state(self):
        """What observe has changed, as JSON-able numbers (a checkpoint keeps it)."""
        return {name: getattr(self, name) for name in self.state_fields}

    def restore(self, state):
        """Take back a state() of a schedule of the same kind."""
        missing = [name for name in self.state_fields if name not in state]
        if missing:
            raise ValueError(f"the {self.name} schedule's state lacks {', '.join(missing)}")
        for name in self.state_fields:
            setattr(self, name, type(getattr(self, name))(state[name]))


class Constant(Schedule):
    name = "constant"


class StepDecay(Schedule):
    """Multiply by gamma every step_size epochs."""
    name = "step"

    def __init__(self, base_lr, epochs, step_size=None, gamma=0.1):
        super().__init__(base_lr, epochs)
        self.step_size = max(1, int(step_size or max(1, self.epochs // 3)))
        self.gamma = float(gamma)

    def lr(self, epoch):
        return self.base_lr * self.gamma ** (epoch // self.step_size)


class Cosine(Schedule):
    """Half a cosine from base_lr down to min_lr over all epochs."""
    name = "cosine"

    def __init__(self, base_lr, epochs, min_lr=0.0, warmup=0):
        super().__init__(base_lr, epochs)
        self.min_lr = float(min_lr)
        self.warmup = int(warmup)

    def lr(self, epoch):
        if epoch < self.warmup:
            return self.base_lr * (epoch + 1) / self.warmup
        span = max(1, self.epochs - self.warmup)
        t = min(1.0, (epoch - self.warmup) / span)
        return self.min_lr + 0.5 * (self.base_lr - self.min_lr) * (1 + math.cos(math.pi * t))


class WarmupCosine(Cosine):
    """Linear warmup over the first epochs (5% by default), then cosine."""
    name = "warmup_cosine"

    def __init__(self, base_lr, epochs, warmup=None, min_lr=0.0):
        epochs = max(1, int(epochs))
        warmup = max(1, int(round(0.05 * epochs))) if warmup is None else int(warmup)
        super().__init__(base_lr, epochs, min_lr=min_lr, warmup=warmup)


class ReduceOnPlateau(Schedule):
    """Multiply by factor when the monitored loss has not improved for `patience` epochs."""
    name = "plateau"
    state_fields = ("current", "best", "bad")

    def __init__(self, base_lr, epochs, patience=5, factor=0.5, min_lr=1e-6,
                 threshold=1e-4):
        super().__init__(base_lr, epochs)
        self.patience, self.factor = int(patience), float(factor)
        self.min_lr, self.threshold = float(min_lr), float(threshold)
        self.current = self.base_lr
        self.best = math.inf
        self.bad = 0

    def lr(self, epoch):
        return self.current

    def observe(self, epoch, monitored):
        if monitored < self.best * (1 - self.threshold):
            self.best, self.bad = monitored, 0
            return
        self.bad += 1
        if self.bad > self.patience:
            self.current = max(self.min_lr, self.current * self.factor)
            self.bad = 0


class InvScaling(Schedule):
    """base_lr / (t + 1) ** power_t with t the samples seen, as scikit-learn's SGD."""
    name = "invscaling"

    def __init__(self, base_lr, epochs, power_t=0.5, samples_per_epoch=1):
        super().__init__(base_lr, epochs)
        self.power_t = float(power_t)
        self.samples = int(samples_per_epoch)

    def lr(self, epoch):
        return self.base_lr / (epoch * self.samples + 1) ** self.power_t


SCHEDULES = {cls.name: cls for cls in (Constant, StepDecay, Cosine, WarmupCosine,
                                       ReduceOnPlateau, InvScaling)}


def make_schedule(name, base_lr, epochs, **kw):
    if name not in SCHEDULES:
        raise ValueError(f"unknown schedule {name!r}; choose from {', '.join(SCHEDULES)}")
    return SCHEDULES[name](base_lr, epochs, **kw)
