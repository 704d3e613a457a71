-- experiment_table: the paper's table: one row per experiment arm and model stage (base, sft = before RL, rl = after RL) and prompt, accuracy per task:level column, then skill use (samples per answer, verification rate, retries after an Incorrect verdict, backtracks) from the skills table.
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
           round(avg(s.n_samples), 2) AS samples_per_answer,
           round(avg((s.n_verdicts > 0 OR s.cue_verify > 0)::INT), 3) AS verification_rate,
           round(avg((s.n_retries > 0)::INT), 3) AS retry_rate,
           round(avg((s.n_backtracks > 0)::INT), 3) AS backtrack_rate
    FROM plain e LEFT JOIN skills s ON s.source = 'eval' AND s.id = e.eval_id
    GROUP BY e.arm, e.stage, e.prompt_setup
)
SELECT acc.*, skill.answers, skill.samples_per_answer, skill.verification_rate, skill.retry_rate, skill.backtrack_rate
FROM acc JOIN skill USING (arm, stage, prompt)
ORDER BY min(skill.first_at) OVER (PARTITION BY acc.arm), CASE acc.stage WHEN 'base' THEN 0 WHEN 'sft' THEN 1 WHEN 'rl' THEN 2 ELSE 3 END, acc.stage;
