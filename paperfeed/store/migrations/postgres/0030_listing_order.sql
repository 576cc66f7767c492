-- Newest-first listings (home, feeds, category pages) read this index in order and stop
-- after a page, instead of sorting every matching paper.
CREATE INDEX papers_newest_first ON papers (published DESC NULLS LAST, pk DESC);
