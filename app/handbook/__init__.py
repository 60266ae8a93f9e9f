"""The unit handbook (一本手册): sections of text with their legal basis, each linked to duty-list items
(一张清单) and to the questions (一个题库) that cover them; the .docx export and the coverage report."""
