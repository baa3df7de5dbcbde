"""Kubelet-like node agents: :class:`NodeAgent`, its swappable :class:`ApiConnection`, pod runtimes."""
from .agent import AgentConfig, NodeAgent
from .bootstrap import request_node_certificate
from .connection import ApiConnection, client_ssl_context
from .runtime import ContainerState, PodRuntime, PodState, ProcessRuntime

__all__ = ["AgentConfig", "NodeAgent", "ApiConnection", "client_ssl_context", "request_node_certificate",
           "ContainerState", "PodRuntime", "PodState", "ProcessRuntime"]
