"""The template method passes xssab's conformance suite on the template model.

Keep this test when you copy the template: ``xssab.testing.check_method`` raises an
``AssertionError`` naming the broken rule (shape, dtype, batched, determinism, ...).
"""

import xssab
from xssab.testing import check_method

from xssab_plugin_template import MODEL_FILE, HERE
from xssab_plugin_template.method import TemplateGradient


def test_template_method_conforms():
    model = xssab.load_model(str(HERE / MODEL_FILE), threshold=0.5)
    check_method(TemplateGradient(), model)
