const url = 'https://hooks.slack.com/services/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';
