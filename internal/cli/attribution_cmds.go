package cli

func addAttributionCommands(app *App, p Parents) {}
