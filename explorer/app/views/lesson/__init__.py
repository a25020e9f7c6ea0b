"""The Lesson page's pieces: which models it shows (:mod:`.choice`), the prose of its six steps with
their live figures (:mod:`.steps`), what the results report says that the steps quote
(:mod:`.quotes`), and the zip a teacher takes away (:mod:`.bundle`)."""
