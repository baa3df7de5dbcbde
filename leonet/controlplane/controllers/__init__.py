"""In-process controllers of a control plane: scheduler, node lifecycle, certificates, event GC."""
from .certificates import CertificateController
from .events import EventGC, record_event
from .nodelifecycle import NodeLifecycleController
from .scheduler import DEFAULT_SCHEDULER, Scheduler

__all__ = ["CertificateController", "EventGC", "NodeLifecycleController", "Scheduler", "DEFAULT_SCHEDULER",
           "record_event"]
