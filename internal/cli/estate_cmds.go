package cli

func addEstateCommands(app *App, p Parents) {}
