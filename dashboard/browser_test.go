package dashboard_test

func closeBrowser() {}
