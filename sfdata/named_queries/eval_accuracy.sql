-- eval_accuracy: evaluation accuracy per experiment arm, model and stage (never averaged across arms), by task and level (e.g. Countdown with 3/4/5/6 numbers) and budget-forcing rounds; n_questions = questions scored (a question's score is the mean of its samples), acc with its 95% Wilson interval [ci_lo, ci_hi]; prompt_setup says how every model was asked.
-- params: none.
WITH per_question AS (
    SELECT prompt_setup, arm, model, stage, task, level, budget_rounds, question_id,
           avg(is_correct::INT) AS score, count(*) AS outputs, sum(completion_tokens) AS tokens
    FROM eval
    GROUP BY ALL
),
cell AS (
    SELECT prompt_setup, arm, model, stage, task, level, budget_rounds,
           count(*) AS n_questions, sum(outputs) AS outputs, sum(score)::DOUBLE AS k,
           sum(tokens) / sum(outputs) AS mean_tokens
    FROM per_question
    GROUP BY ALL
)
SELECT prompt_setup, arm, model, stage, task, level, budget_rounds, n_questions, outputs,
       round(k / n_questions, 4) AS acc,
       round(greatest(0.0, (k / n_questions + 1.9208 / n_questions - 1.96 * sqrt(k / n_questions * (1 - k / n_questions) / n_questions + 0.9604 / (n_questions * n_questions))) / (1 + 3.8416 / n_questions)), 4) AS ci_lo,
       round(least(1.0, (k / n_questions + 1.9208 / n_questions + 1.96 * sqrt(k / n_questions * (1 - k / n_questions) / n_questions + 0.9604 / (n_questions * n_questions))) / (1 + 3.8416 / n_questions)), 4) AS ci_hi,
       round(mean_tokens, 1) AS mean_tokens
FROM cell
ORDER BY prompt_setup, arm, stage, model, task, level, budget_rounds;
