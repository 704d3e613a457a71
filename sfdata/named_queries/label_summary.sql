-- label_summary: curation status: keep/drop/unlabelled traces per format.
-- params: none.
SELECT t.format,
       count(*) AS traces,
       count(*) FILTER (WHERE l.label = 'keep') AS keep,
       count(*) FILTER (WHERE l.label = 'drop') AS drop,
       count(*) FILTER (WHERE l.label IS NULL) AS unlabelled
FROM traces t LEFT JOIN labels l USING (trace_id)
GROUP BY t.format
ORDER BY t.format;
