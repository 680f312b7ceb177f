"""register_all_modules: import every registering package and optionally set the default scope."""
from mmengine.registry import init_default_scope


def register_all_modules(init_default_scope_: bool = True) -> None:
    """Import datasets, transforms, models, metrics and engine parts; set scope ``mmseg_procl``."""
    import mmseg_procl.datasets  # noqa: F401
    import mmseg_procl.engine  # noqa: F401
    import mmseg_procl.evaluation  # noqa: F401
    import mmseg_procl.models  # noqa: F401
    import mmseg_procl.uda  # noqa: F401
    if init_default_scope_:
        init_default_scope('mmseg_procl')
