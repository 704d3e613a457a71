"""Trace factory: rearrange graded samples and valid reflections into SkillFactory traces."""

from sfdata.factory.registry import ABLATIONS, FORMATS

__all__ = ["ABLATIONS", "FORMATS"]
