package cli

func addUsageCommands(app *App, p Parents) {}
