-- experiment_table: the paper's table in long form: one row per experiment arm, model stage (base, sft = before RL, rl = after RL), prompt and task:level, with n_questions, acc and its 95% Wilson interval [ci_lo, ci_hi], then skill use (samples per answer, tagged-verdict and keyword-cue rates, retries after an Incorrect verdict, backtracks, verdict F1 per class) from the skills table. `sf experiment`'s report adds budget-forcing columns (query budget_forcing), paired-bootstrap differences vs the base and rl_only arms, and SFT examples/tokens per arm.
-- params: none. Plain decoding only (budget_rounds = 0); a question's score is the mean of its samples; skill columns are NULL until `sf skills` (the experiment stage runs it) has seen the eval rows.
WITH plain AS (
    SELECT * FROM eval WHERE budget_rounds = 0
),
per_question AS (
    SELECT arm, model, stage, prompt_setup, task, level, question_id, avg(is_correct::INT) AS score
    FROM plain
    GROUP BY ALL
),
acc AS (
    SELECT arm, model, stage, prompt_setup, task, level, count(*) AS n_questions, sum(score)::DOUBLE AS k
    FROM per_question
    GROUP BY ALL
),
skill AS (
    SELECT e.arm, e.model, e.stage, e.prompt_setup, e.task, e.level,
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
    GROUP BY ALL
)
SELECT acc.arm, acc.stage, acc.model, acc.prompt_setup AS prompt,
       acc.task || coalesce(':' || acc.level, '') AS task_level,
       acc.n_questions,
       round(k / n_questions, 4) AS acc,
       round(greatest(0.0, (k / n_questions + 1.9208 / n_questions - 1.96 * sqrt(k / n_questions * (1 - k / n_questions) / n_questions + 0.9604 / (n_questions * n_questions))) / (1 + 3.8416 / n_questions)), 4) AS ci_lo,
       round(least(1.0, (k / n_questions + 1.9208 / n_questions + 1.96 * sqrt(k / n_questions * (1 - k / n_questions) / n_questions + 0.9604 / (n_questions * n_questions))) / (1 + 3.8416 / n_questions)), 4) AS ci_hi,
       skill.answers, skill.samples_per_answer, skill.tagged_verdict_rate, skill.keyword_cue_rate, skill.retry_rate,
       skill.backtrack_rate, skill.verdict_f1_correct, skill.verdict_f1_incorrect
FROM acc JOIN skill USING (arm, model, stage, prompt_setup, task, level)
ORDER BY min(skill.first_at) OVER (PARTITION BY acc.arm), acc.arm,
         CASE acc.stage WHEN 'base' THEN 0 WHEN 'sft' THEN 1 WHEN 'rl' THEN 2 ELSE 3 END, acc.stage, acc.model,
         acc.prompt_setup, acc.task, acc.level;
