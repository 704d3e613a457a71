-- rl_skill_use: skill use and accuracy per GRPO logging step for every experiment arm (which skills RL keeps), from the rl_log table.
-- params: $arm (an arm name, or null for every arm).
SELECT arm, step, completions, round(reward_mean, 3) AS reward, round(accuracy, 3) AS accuracy,
       round(completion_tokens, 1) AS tokens, round(samples_per_answer, 2) AS samples_per_answer,
       round(verification_rate, 3) AS verification_rate, round(retry_rate, 3) AS retry_rate,
       round(backtrack_rate, 3) AS backtrack_rate, round(cue_rate, 3) AS cue_rate
FROM rl_log
WHERE $arm IS NULL OR arm = $arm
ORDER BY arm, step;
