-- budget_forcing: budget forcing per experiment arm, model and stage: for each task:level, accuracy with plain decoding (budget_rounds = 0) and after each number of forced rounds, each with n_questions and a 95% Wilson interval, and the gain over plain decoding on the same questions (`sf experiment`'s report adds its paired-bootstrap interval).
-- params: none. Rows only where a model was evaluated with budget forcing (`[eval] budget_forcing` > 0).
WITH per_question AS (
    SELECT prompt_setup, arm, model, stage, task, level, budget_rounds, question_id,
           avg(is_correct::INT) AS score, avg(completion_tokens) AS tokens
    FROM eval
    GROUP BY ALL
),
cell AS (
    SELECT prompt_setup, arm, model, stage, task, level, budget_rounds,
           count(*) AS n_questions, sum(score)::DOUBLE AS k, avg(tokens) AS mean_tokens
    FROM per_question
    GROUP BY ALL
),
scored AS (
    SELECT *, k / n_questions AS acc, greatest(0.0, (k / n_questions + 1.9208 / n_questions - 1.96 * sqrt(k / n_questions * (1 - k / n_questions) / n_questions + 0.9604 / (n_questions * n_questions))) / (1 + 3.8416 / n_questions)) AS ci_lo, least(1.0, (k / n_questions + 1.9208 / n_questions + 1.96 * sqrt(k / n_questions * (1 - k / n_questions) / n_questions + 0.9604 / (n_questions * n_questions))) / (1 + 3.8416 / n_questions)) AS ci_hi
    FROM cell
),
paired AS (  -- plain vs forced on the questions both have
    SELECT f.prompt_setup, f.arm, f.model, f.stage, f.task, f.level, f.budget_rounds,
           avg(f.score - p.score) AS gain
    FROM per_question f JOIN per_question p
      ON p.budget_rounds = 0 AND f.budget_rounds > 0 AND p.question_id = f.question_id
     AND p.prompt_setup = f.prompt_setup AND p.arm = f.arm AND p.model = f.model AND p.stage = f.stage
     AND p.task = f.task AND p.level IS NOT DISTINCT FROM f.level
    GROUP BY ALL
)
SELECT f.prompt_setup, f.arm, f.model, f.stage, f.task, f.level, f.budget_rounds,
       f.n_questions,
       round(p.acc, 4) AS plain_acc, round(p.ci_lo, 4) AS plain_ci_lo, round(p.ci_hi, 4) AS plain_ci_hi,
       round(f.acc, 4) AS acc, round(f.ci_lo, 4) AS ci_lo, round(f.ci_hi, 4) AS ci_hi,
       round(g.gain, 4) AS gain,
       round(p.mean_tokens, 1) AS plain_tokens, round(f.mean_tokens, 1) AS mean_tokens
FROM scored f
LEFT JOIN scored p
  ON p.budget_rounds = 0 AND p.prompt_setup = f.prompt_setup AND p.arm = f.arm AND p.model = f.model
 AND p.stage = f.stage AND p.task = f.task AND p.level IS NOT DISTINCT FROM f.level
LEFT JOIN paired g
  ON g.budget_rounds = f.budget_rounds AND g.prompt_setup = f.prompt_setup AND g.arm = f.arm AND g.model = f.model
 AND g.stage = f.stage AND g.task = f.task AND g.level IS NOT DISTINCT FROM f.level
WHERE f.budget_rounds > 0
ORDER BY f.prompt_setup, f.arm, f.stage, f.model, f.task, f.level, f.budget_rounds;
