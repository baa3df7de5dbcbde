"""The scenario schema's one home (layer 0: no root, no numpy).

* :mod:`.fields`    field checkers: keys with did-you-mean, choices, finite numbers in a
                    range, flags, names, mappings (:class:`Fields` reads one mapping)
* :mod:`.registry`  which layer declares which section and per-node parameter
* :mod:`.yamlload`  safe YAML reading: duplicate keys, binary files and absurd nesting
                    are errors, not tracebacks

See docs/scenarios.md for every section and docs/architecture.md for the walk of one
field from YAML to where it acts.
"""
from .fields import (MAX_NAME_LENGTH, Fields, check_choice, check_flag, check_keys, check_mapping,
                     check_name, check_name_list, check_number, check_string, describe_range, is_number,
                     suggest)
from .registry import (NodeParam, SectionSpec, node_params, register_node_param, register_section, section,
                       section_names)
from .yamlload import read_yaml

__all__ = ["MAX_NAME_LENGTH", "Fields", "NodeParam", "SectionSpec", "check_choice", "check_flag", "check_keys",
           "check_mapping", "check_name", "check_name_list", "check_number", "check_string", "describe_range",
           "is_number", "node_params", "read_yaml", "register_node_param", "register_section", "section",
           "section_names", "suggest"]
