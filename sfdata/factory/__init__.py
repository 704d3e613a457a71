"""Trace factory: rearrange graded samples and valid reflections into SkillFactory traces."""

from sfdata.factory.formats import ABLATIONS, FORMATS

__all__ = ["ABLATIONS", "FORMATS"]
