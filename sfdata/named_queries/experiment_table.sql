-- experiment_table: the paper's table: one row per experiment arm and model stage (base, sft = before RL, rl = after RL) and prompt, accuracy per task:level column, then skill use (samples per answer, tagged-verdict and keyword-cue rates, retries after an Incorrect verdict, backtracks, verdict F1 per class) from the skills table.
-- params: none. Plain decoding only (budget_rounds = 0); skill columns are NULL until `sf skills` (the experiment stage runs it) has seen the eval rows.
WITH plain AS (
    SELECT * FROM eval WHERE budget_rounds = 0
),
acc AS (
    PIVOT (SELECT arm, stage, prompt_setup AS prompt, task || ':' || level AS task_level, is_correct::INT AS ok FROM plain)
    ON task_level USING round(avg(ok), 3) GROUP BY arm, stage, prompt
),
skill AS (
    SELECT e.arm, e.stage, e.prompt_setup AS prompt,
           count(*) AS answers,
           min(e.created_at) AS first_at,
           round(avg(s.n_samples), 3) AS samples_per_answer,
           round(avg((s.n_verdicts > 0)::INT), 3) AS tagged_verdict_rate,
           round(avg((s.cue_wait + s.cue_verify + s.cue_alternatively + s.cue_check > 0)::INT), 3) AS keyword_cue_rate,
           round(avg((s.n_retries > 0)::INT), 3) AS retry_rate,
           round(avg((s.n_backtracks > 0)::INT), 3) AS backtrack_rate,
           round(sum(2 * s.n_verdict_tp) / nullif(sum(2 * s.n_verdict_tp + s.n_verdict_fp + s.n_verdict_fn), 0), 3) AS verdict_f1_correct,
           round(sum(2 * s.n_verdict_tn) / nullif(sum(2 * s.n_verdict_tn + s.n_verdict_fn + s.n_verdict_fp), 0), 3) AS verdict_f1_incorrect
    FROM plain e LEFT JOIN skills s ON s.source = 'eval' AND s.id = e.eval_id
    GROUP BY e.arm, e.stage, e.prompt_setup
)
SELECT acc.*, skill.answers, skill.samples_per_answer, skill.tagged_verdict_rate, skill.keyword_cue_rate, skill.retry_rate, skill.backtrack_rate, skill.verdict_f1_correct, skill.verdict_f1_incorrect
FROM acc JOIN skill USING (arm, stage, prompt)
ORDER BY min(skill.first_at) OVER (PARTITION BY acc.arm), CASE acc.stage WHEN 'base' THEN 0 WHEN 'sft' THEN 1 WHEN 'rl' THEN 2 ELSE 3 END, acc.stage;
