-- eval_accuracy: evaluation accuracy by model stage, task and level (e.g. Countdown with 3/4/5/6 numbers), with budget forcing.
-- params: none.
SELECT stage, task, level, budget_rounds, count(*) AS outputs,
       round(avg(is_correct::INT), 4) AS accuracy,
       round(avg(completion_tokens), 1) AS mean_tokens
FROM eval
GROUP BY stage, task, level, budget_rounds
ORDER BY stage, task, level, budget_rounds;
