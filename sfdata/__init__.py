"""SkillFactory data side: tasks, engines, rollouts, reflections, trace factory, skills, store, hub."""

__version__ = "0.1.0"
