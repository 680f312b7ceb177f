"""IterationState: what several stages, objectives and prototype sources need, computed once per
iteration on first request.

The algorithm registers a provider per entry (a function of the state, e.g. ``pseudo_labels`` runs
the teacher on the target batch); ``state['pseudo_labels']`` computes the entry the first time and
returns the stored value afterwards.  Components may also cache their own derived values
(``state.cached('teacher_embeddings:source', fn)``), so that e.g. the teacher's projection of the
clean source is computed once even when two prototype sources read it.  Entries are computed in the
order they are first requested (stages run in order and request what they need); for DACS / DAFormer
this is the reference's order of random draws.  SePiCo's reference draws its crop windows before the
source blur sigma and a target sigma in every iteration; here the source view is requested first
and the target view only while an objective acts in the target stage (docs/methods.md §2.2.5).
"""
from typing import Any, Callable, Dict, Iterable, List, Optional

Provider = Callable[['IterationState'], Any]


class IterationState:
    """Lazily computed, cached per-iteration values."""

    def __init__(self, providers: Dict[str, Provider], values: Optional[Dict[str, Any]] = None) -> None:
        self._providers = dict(providers)
        self._values: Dict[str, Any] = dict(values or {})
        self._computing: list = []
        self._deferred: List[Callable[[], None]] = []

    def __getitem__(self, key: str) -> Any:
        """The value of entry ``key`` (computed on first request)."""
        if key not in self._values:
            if key not in self._providers:
                raise KeyError(f'IterationState: no entry {key!r}; known entries: '
                               f'{sorted(set(self._providers) | set(self._values))}')
            if key in self._computing:
                raise RuntimeError(f'IterationState: entry {key!r} depends on itself '
                                   f'({" -> ".join(self._computing + [key])})')
            self._computing.append(key)
            try:
                self._values[key] = self._providers[key](self)
            finally:
                self._computing.pop()
        return self._values[key]

    def __contains__(self, key: str) -> bool:
        """Whether ``key`` can be provided (computed or not)."""
        return key in self._values or key in self._providers

    def computed(self, key: str) -> bool:
        """Whether ``key`` has been computed in this iteration."""
        return key in self._values

    def cached(self, key: str, compute: Callable[[], Any]) -> Any:
        """A component's own derived value, computed once per iteration."""
        if key not in self._values:
            self._values[key] = compute()
        return self._values[key]

    def entries(self) -> Iterable[str]:
        """Every entry name this state can provide."""
        return sorted(set(self._providers) | set(self._values))

    def defer(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` once after the last stage's backward, before the optimizer step (e.g. a gradient
        collected over the stages and sent through a shared sub-graph once)."""
        self._deferred.append(fn)

    def run_deferred(self) -> None:
        """Run (and forget) the deferred functions, in the order they were deferred."""
        deferred, self._deferred = self._deferred, []
        for fn in deferred:
            fn()
