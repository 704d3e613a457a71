"""Textual inspector for SkillFactory traces (`sf inspect`)."""
