"""SkillFactory trainer: SFT (TRL SFTTrainer) on traces, GRPO (TRL GRPOTrainer) with grader rewards, eval."""
