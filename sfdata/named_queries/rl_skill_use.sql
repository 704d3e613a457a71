-- rl_skill_use: skill use, verdict quality and accuracy per GRPO logging step for every experiment arm (which skills RL keeps), from the rl_log table.
-- params: $arm (an arm name, or null for every arm).
SELECT arm, step, completions, round(reward_mean, 3) AS reward, round(accuracy, 3) AS accuracy,
       round(completion_tokens, 1) AS tokens,
       round(samples_per_answer, 3) AS samples_per_answer,
       round(sample_tag_rate, 3) AS sample_tag_rate,
       round(tagged_verdict_rate, 3) AS tagged_verdict_rate,
       round(keyword_cue_rate, 3) AS keyword_cue_rate,
       round(retry_rate, 3) AS retry_rate,
       round(backtrack_rate, 3) AS backtrack_rate,
       round(confirm_rate, 3) AS confirm_rate,
       round(malformed_rate, 3) AS malformed_rate,
       round(verdict_accuracy, 3) AS verdict_accuracy,
       round(verdict_precision_correct, 3) AS verdict_precision_correct,
       round(verdict_recall_correct, 3) AS verdict_recall_correct,
       round(verdict_f1_correct, 3) AS verdict_f1_correct,
       round(verdict_precision_incorrect, 3) AS verdict_precision_incorrect,
       round(verdict_recall_incorrect, 3) AS verdict_recall_incorrect,
       round(verdict_f1_incorrect, 3) AS verdict_f1_incorrect
FROM rl_log
WHERE $arm IS NULL OR arm = $arm
ORDER BY arm, step;
