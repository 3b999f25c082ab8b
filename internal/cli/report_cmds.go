package cli

func addReportCommands(app *App, p Parents) {}
